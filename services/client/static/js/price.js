// "Sell Tickets": when the price field loses focus, show what was typed as an amount
// with two decimals (12.3456 -> 12.35, 5 -> 5.00); leave anything that is not a number
// alone, for the server to explain. The server does the real validation.
(function () {
  "use strict";
  var input = document.querySelector("input[data-price]");
  if (!input) return;
  input.addEventListener("blur", function () {
    var value = parseFloat(input.value);
    if (!isNaN(value)) input.value = value.toFixed(2);
  });
})();
