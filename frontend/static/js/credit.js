// Claim form: keep the attested amount in the sentence equal to the amount field, and never
// above the measured amount (the server refuses more anyway).

/** Start the page: nothing runs until the template calls this. */
export function init() {
  for (const form of document.querySelectorAll("form.claim")) {
    const input = form.querySelector("input[name=amount]");
    const shown = form.querySelector("output[data-amount]");
    const max = Number(form.dataset.max);
    input.addEventListener("input", () => {
      const value = Number(input.value);
      if (value > max) input.value = String(max);
      shown.textContent = input.value;
    });
  }
}
