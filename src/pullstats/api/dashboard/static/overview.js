// The overview's progressive enhancements: tooltips on the chart's points (hover and keyboard
// focus), the repository filter, and copying the share link. Without this script the page
// works: the chart has a table, the share link can be selected and copied by hand.
"use strict";

(function () {
  const tooltip = document.getElementById("tooltip");
  const box = tooltip ? tooltip.parentElement : null;

  // Centred over the point, then kept inside the chart's box on both sides (the CSS keeps the
  // tooltip no wider than the box: long ones wrap).
  function show(point) {
    if (!tooltip || !box) return;
    tooltip.textContent = point.getAttribute("aria-label");
    tooltip.hidden = false;
    tooltip.style.left = "0px";  // measured where it has the box's whole width
    const area = box.getBoundingClientRect();
    const spot = point.getBoundingClientRect();
    const width = Math.min(tooltip.offsetWidth, area.width);
    const centre = spot.left - area.left + spot.width / 2;
    const left = Math.min(Math.max(0, centre - width / 2), Math.max(0, area.width - width));
    const top = spot.top - area.top - tooltip.offsetHeight - 8;
    tooltip.style.left = left + "px";
    tooltip.style.top = Math.max(0, top) + "px";
  }

  function hide() {
    if (tooltip) tooltip.hidden = true;
  }

  document.querySelectorAll(".chart-points .pt").forEach(function (point) {
    point.addEventListener("mouseenter", function () { show(point); });
    point.addEventListener("focus", function () { show(point); });
    point.addEventListener("mouseleave", hide);
    point.addEventListener("blur", hide);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") hide();
  });

  const filter = document.getElementById("repo-filter");
  const count = document.getElementById("repo-count");
  if (filter) {
    filter.addEventListener("input", function () {
      const needle = filter.value.trim().toLowerCase();
      let shown = 0;
      document.querySelectorAll("#repo-list li").forEach(function (item) {
        const box = item.querySelector("input");
        const match = !needle || box.value.toLowerCase().includes(needle) || box.checked;
        item.hidden = !match;
        if (match) shown += 1;
      });
      if (count) count.textContent = shown + (shown === 1 ? " repository" : " repositories");
    });
  }

  const copy = document.getElementById("copy-share");
  const share = document.getElementById("share-url");
  const status = document.getElementById("copy-status");
  if (copy && share && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(share.value).then(
        function () { status.textContent = "Link copied."; },
        function () { share.select(); status.textContent = "Select the link and copy it."; }
      );
    });
  }
})();
