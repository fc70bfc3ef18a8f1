// A running broadcast's figures, moved without a reload: every element with data-live="<address of its JSON>"
// is asked for its figures every few seconds, and what it holds is updated: cells with data-figure="<name>",
// bars with data-bar="<name>", the status in data-status. It stops when the broadcast no longer runs, or
// when the answer is not its figures (signed out, no longer allowed). Without it a reload shows the same.
"use strict";

(function () {
  const EVERY = 5000; // ms between two questions
  const AFTER_A_FAILURE = 30000; // ms: the network is down, or the server restarts

  function show(box, answer) {
    box.querySelectorAll("[data-figure]").forEach(function (cell) {
      const figure = answer.figures[cell.dataset.figure];
      if (figure) {
        cell.textContent = figure.shown;
      }
    });
    box.querySelectorAll("[data-bar]").forEach(function (row) {
      const figure = answer.figures[row.dataset.bar];
      const bar = row.querySelector("rect");
      const value = row.querySelector(".value");
      if (!figure || !bar || !value) {
        return;
      }
      bar.setAttribute("width", figure.width);
      const title = bar.querySelector("title");
      if (title) {
        title.textContent = row.querySelector(".label").textContent + ": " + figure.shown;
      }
      value.setAttribute("x", Number(bar.getAttribute("x")) + figure.width + 6);
      value.textContent = figure.shown;
    });
    box.querySelectorAll("[data-status]").forEach(function (status) {
      status.textContent = answer.status_shown;
    });
  }

  function follow(box) {
    async function ask() {
      let answer;
      try {
        const response = await fetch(box.dataset.live, { credentials: "same-origin", cache: "no-store" });
        if (!response.ok) {
          return; // signed out, or no longer allowed: the page stays as it was
        }
        answer = await response.json();
      } catch (error) {
        setTimeout(ask, AFTER_A_FAILURE);
        return;
      }
      show(box, answer);
      if (answer.running) {
        setTimeout(ask, EVERY);
      }
    }
    setTimeout(ask, EVERY);
  }

  document.querySelectorAll("[data-live]").forEach(follow);
})();
