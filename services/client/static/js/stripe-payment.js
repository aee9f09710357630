// Paying with Stripe's Payment Element (only when a publishable key is configured).
// The card details go from the browser to Stripe, never to us: Stripe gives back a
// PaymentMethod id, which the form posts as `token`; payments then charges it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-stripe-key]");
  if (!form || typeof Stripe === "undefined") return;
  var stripe = Stripe(form.dataset.stripeKey);
  var elements = stripe.elements({
    mode: "payment",
    amount: Number(form.dataset.amountCents),
    currency: "usd",
    paymentMethodCreation: "manual",
    paymentMethodTypes: ["card"],
  });
  elements.create("payment").mount("#payment-element");
  var errorBox = form.querySelector("[data-stripe-error]");
  var button = form.querySelector("button[type=submit]");

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    button.disabled = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    errorBox.hidden = true;
    var submitted = await elements.submit();
    if (submitted.error) return showError(submitted.error.message);
    var created = await stripe.createPaymentMethod({ elements: elements });
    if (created.error) return showError(created.error.message);
    form.elements.token.value = created.paymentMethod.id;
    form.submit();
  });
})();
