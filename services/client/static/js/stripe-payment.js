// Paying with Stripe's Payment Element (only when a publishable key is configured), in
// Stripe's "finalize payments on the server" flow with a ConfirmationToken:
//
// 1. The pay form: elements.submit(), then stripe.createConfirmationToken(). The card
//    details go from the browser to Stripe, never to us; the form posts the token's id
//    as `token` (with its CSRF field), and payments creates and confirms the order's
//    PaymentIntent with it.
// 2. A card that asks for 3-D Secure comes back as this page with the confirm form,
//    holding the intent's client secret: stripe.handleNextAction() shows the bank's
//    challenge, and whatever the buyer answered, the form posts; payments then asks
//    Stripe how it went and settles the payment on the server (or says why not).
(function () {
  "use strict";
  if (typeof Stripe === "undefined") return;

  function errorShower(form) {
    var errorBox = form.querySelector("[data-stripe-error]");
    var button = form.querySelector("button[type=submit]");
    return {
      busy: function () {
        button.disabled = true;
        errorBox.hidden = true;
      },
      show: function (message) {
        errorBox.textContent = message;
        errorBox.hidden = false;
        button.disabled = false;
      },
    };
  }

  var payForm = document.querySelector("form[data-pay-form][data-stripe-key]");
  if (payForm) {
    var stripe = Stripe(payForm.dataset.stripeKey);
    var elements = stripe.elements({
      mode: "payment",
      amount: Number(payForm.dataset.amountCents),
      currency: "usd",
      paymentMethodCreation: "manual",
      paymentMethodTypes: ["card"],
    });
    elements.create("payment").mount("#payment-element");
    var status = errorShower(payForm);

    payForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      status.busy();
      var submitted = await elements.submit();
      if (submitted.error) return status.show(submitted.error.message);
      var created = await stripe.createConfirmationToken({
        elements: elements,
        params: { return_url: payForm.dataset.returnUrl },
      });
      if (created.error) return status.show(created.error.message);
      payForm.elements.token.value = created.confirmationToken.id;
      payForm.submit();
    });
  }

  var confirmForm = document.querySelector("form[data-confirm-form][data-client-secret]");
  if (confirmForm) {
    var challenger = Stripe(confirmForm.dataset.stripeKey);
    var waiting = errorShower(confirmForm);
    waiting.busy();
    challenger
      .handleNextAction({ clientSecret: confirmForm.dataset.clientSecret })
      .then(function () {
        // Passed or failed, the server asks Stripe and shows the outcome.
        confirmForm.submit();
      })
      .catch(function () {
        waiting.show("The bank's check could not be shown. Press Continue to try again.");
      });
  }
})();
