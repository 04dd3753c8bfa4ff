// Draws the graph element ([data-graph]) from the JSON in its data-graph attribute with cytoscape.js (shipped in the
// package). Runs on load and after each htmx swap (boosted pages do not run inline scripts).
(function () {
  var colours = { self: "#b3261e", account: "#2855c5", key: "#6b7280", network: "#1e7a3c",
                  tls: "#8a5a00", payment: "#7c3aed", more: "#9ca3af",
                  core: "#b3261e", peripheral: "#d97706" };
  function draw() {
    var box = document.querySelector("[data-graph]");
    if (!box || !box.dataset.graph || typeof cytoscape === "undefined" || box.dataset.drawn) return;
    var g = JSON.parse(box.dataset.graph);
    var elements = g.nodes.map(function (n) { return { data: n }; }).concat(
      g.edges.map(function (e, i) { return { data: { id: "e" + i, source: e.source, target: e.target } }; }));
    var campaign = g.layout === "cose";
    window.stillwatchGraph = cytoscape({
      container: box,
      maxZoom: 2,
      elements: elements,
      // A campaign's member graph (data.layout "cose") is laid out by force; an account's
      // neighbourhood in rings around it.
      layout: g.layout === "cose" ? { name: "cose", animate: false, randomize: true, nodeRepulsion: function () { return 400000; }, idealEdgeLength: function () { return 80; } } :
              { name: "concentric", concentric: function (n) { return n.data("kind") === "self" ? 3 : n.data("kind") === "account" || n.data("kind") === "more" ? 1 : 2; }, levelWidth: function () { return 1; }, minNodeSpacing: 12 },
      style: [
        { selector: "node", style: { "label": "data(label)", "font-size": 9, "width": 14, "height": 14,
          "background-color": function (n) { return colours[n.data("kind")] || "#555"; } } },
        { selector: "node[kind = 'self']", style: { "width": 24, "height": 24, "font-weight": "bold" } },
        { selector: "node[kind = 'more']", style: { "width": 26, "height": 26 } },
        // A campaign's members are many: an id shows when its node is selected (tap opens it).
        { selector: campaign ? "node[kind != 'more']" : "node[kind = 'none']", style: { "label": "" } },
        { selector: campaign ? "node[kind != 'more']:active, node[kind != 'more']:selected" : "node[kind = 'none']", style: { "label": "data(label)" } },
        { selector: "edge", style: { "width": 1, "line-color": "#c3c8d4" } }
      ]
    });
    window.stillwatchGraph.on("tap", "node[kind = 'account'], node[kind = 'core'], node[kind = 'peripheral']", function (evt) {
      window.location.href = "/accounts/" + encodeURIComponent(evt.target.data("label"));
    });
    box.dataset.drawn = "1";
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
