// Deadline countdowns, the live queue, street choices per district, and playing an evidence span.
"use strict";

function remaining(deadline) {
  const ms = new Date(deadline) - Date.now();
  const late = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s %= 86400;
  const h = Math.floor(s / 3600); s %= 3600;
  const m = Math.floor(s / 60);
  const text = (d ? d + "天" : "") + h + "小时" + String(m).padStart(2, "0") + "分";
  return { late, text: late ? "已超时" + text : "剩" + text };
}

function tick() {
  document.querySelectorAll(".countdown[data-deadline]").forEach((el) => {
    const r = remaining(el.dataset.deadline);
    el.textContent = r.text;
    el.classList.toggle("late", r.late);
  });
}

async function refreshQueue(body) {
  try {
    const response = await fetch(body.dataset.src, { credentials: "same-origin" });
    // A redirect means the session ended: reload, which lands on the login page.
    if (response.redirected) { window.location.reload(); return; }
    if (response.ok) { body.innerHTML = await response.text(); tick(); }
  } catch (e) { /* the next poll tries again */ }
}

function streets() {
  const district = document.getElementById("district");
  const street = document.getElementById("street");
  if (!district || !street) return;
  const byDistrict = JSON.parse(street.dataset.streets);
  district.addEventListener("change", () => {
    street.replaceChildren(new Option("未知", ""));
    (byDistrict[district.value] || []).forEach((name) => street.add(new Option(name, name)));
  });
}

function players() {
  const player = document.getElementById("player");
  if (!player) return;
  let end = null;
  document.querySelectorAll("button.play").forEach((button) => {
    button.addEventListener("click", () => {
      player.currentTime = parseFloat(button.dataset.start);
      end = parseFloat(button.dataset.end);
      player.play();
    });
  });
  player.addEventListener("timeupdate", () => {
    if (end !== null && player.currentTime >= end) { player.pause(); end = null; }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  tick();
  setInterval(tick, 1000);
  const body = document.getElementById("queue-rows");
  if (body) setInterval(() => refreshQueue(body), 5000);
  streets();
  players();
});
