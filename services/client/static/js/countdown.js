// The order page's countdown. The server rendered the seconds left, so the page reads
// right without JavaScript; here it ticks down every second and, once the hold is over,
// says "Order Expired" and hides the pay form.
//
// It counts from the server's number on the browser's monotonic clock, so a phone whose
// wall clock is wrong still shows the right time.
(function () {
  "use strict";
  var box = document.querySelector("[data-countdown]");
  if (!box) return;
  var deadline = performance.now() + Number(box.dataset.secondsLeft) * 1000;
  var seconds = box.querySelector("[data-seconds]");
  var timeLeft = box.querySelector("[data-time-left]");
  var expired = box.querySelector("[data-expired]");
  var form = box.querySelector("[data-pay-form]");
  var timer = null;

  function tick() {
    // Rounded as the original page did: at 0 there is still a moment to pay.
    var left = Math.round((deadline - performance.now()) / 1000);
    if (left < 0) {
      timeLeft.hidden = true;
      if (form) form.hidden = true;
      expired.hidden = false;
      if (timer !== null) clearInterval(timer);
      return;
    }
    seconds.textContent = String(left);
  }

  tick();
  timer = setInterval(tick, 1000);
})();
