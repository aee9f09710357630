// A stand-in for Stripe.js (https://js.stripe.com/v3/), served by the Stripe emulator for
// offline browser tests. It offers the few calls the web client makes, with Stripe.js's
// names and result shapes: Stripe(key).elements({...}), elements.create("payment").mount(),
// elements.submit(), stripe.createConfirmationToken({elements, params}) and
// stripe.handleNextAction({clientSecret}). The "Payment Element" is a plain card-number
// field (Stripe's test numbers only), not an iframe; the 3-D Secure challenge is a dialog
// on the page with Complete and Fail. It talks to the emulator with the publishable key
// in the form body, as Stripe.js does, so its requests need no CORS preflight.
(function () {
  "use strict";
  var API = __EMULATOR_BASE__;

  function form(fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (name) {
      if (fields[name] !== undefined && fields[name] !== null) body.append(name, fields[name]);
    });
    return body;
  }

  async function call(method, path, fields) {
    var url = API + path;
    var init = { method: method };
    if (method === "GET") url += "?" + form(fields).toString();
    else init.body = form(fields);
    var response = await fetch(url, init);
    var body = await response.json();
    return response.ok ? { data: body } : { error: body.error || { message: "Stripe failed" } };
  }

  function Elements(options) {
    this.options = options || {};
    this.input = null;
  }

  Elements.prototype.create = function (type) {
    var elements = this;
    return {
      mount: function (selector) {
        var box = typeof selector === "string" ? document.querySelector(selector) : selector;
        var label = document.createElement("label");
        label.textContent = "Card number";
        var input = document.createElement("input");
        input.name = "cardnumber";
        input.autocomplete = "cc-number";
        input.inputMode = "numeric";
        label.appendChild(input);
        box.appendChild(label);
        elements.input = input;
      },
    };
  };

  Elements.prototype.submit = async function () {
    var number = this.input ? this.input.value.replace(/\s+/g, "") : "";
    if (!number) return { error: { type: "validation_error", message: "Your card number is incomplete." } };
    return {};
  };

  function challengeDialog(url) {
    // Stripe shows its challenge in a modal frame; this one asks on the page itself.
    return new Promise(function (resolve) {
      var dialog = document.createElement("div");
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-label", "3D Secure 2 Test Page");
      dialog.setAttribute("data-stripe-challenge", "");
      var heading = document.createElement("h2");
      heading.textContent = "3D Secure 2 Test Page";
      var text = document.createElement("p");
      text.textContent = "Your bank asks you to confirm this payment (emulator).";
      dialog.appendChild(heading);
      dialog.appendChild(text);
      ["Complete", "Fail"].forEach(function (name) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = name;
        button.addEventListener("click", async function () {
          dialog.remove();
          var response = await fetch(url, {
            method: "POST",
            headers: { Accept: "application/json" },
            body: form({ outcome: name.toLowerCase() }),
          });
          resolve(await response.json());
        });
        dialog.appendChild(button);
      });
      document.body.appendChild(dialog);
    });
  }

  function Stripe(key) {
    if (!(this instanceof Stripe)) return new Stripe(key);
    this.key = key;
  }

  Stripe.prototype.elements = function (options) {
    return new Elements(options);
  };

  Stripe.prototype.createConfirmationToken = async function (options) {
    var params = options.params || {};
    var made = await call("POST", "/v1/confirmation_tokens", {
      key: this.key,
      "payment_method_data[type]": "card",
      "payment_method_data[card][number]": options.elements.input.value.replace(/\s+/g, ""),
      return_url: params.return_url,
    });
    return made.error ? { error: made.error } : { confirmationToken: made.data };
  };

  Stripe.prototype.handleNextAction = async function (options) {
    var secret = options.clientSecret;
    var id = secret.split("_secret_")[0];
    var read = { key: this.key, client_secret: secret };
    var found = await call("GET", "/v1/payment_intents/" + id, read);
    if (found.error) return { error: found.error };
    var intent = found.data;
    if (intent.status !== "requires_action") {
      return { error: { type: "invalid_request_error", message: "The PaymentIntent does not require an action." } };
    }
    var action = intent.next_action;
    if (action.type === "redirect_to_url") {
      window.location.assign(action.redirect_to_url.url);
      return new Promise(function () {});
    }
    var answered = await challengeDialog(action.use_stripe_sdk.stripe_js);
    if (answered.error) return { error: answered.error };
    if (answered.last_payment_error) return { error: answered.last_payment_error, paymentIntent: answered };
    return { paymentIntent: answered };
  };

  window.Stripe = Stripe;
})();
