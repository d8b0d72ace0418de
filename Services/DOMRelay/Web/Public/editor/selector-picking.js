// Selector picking: "Pick elements" on the edited page, the selectors its SDK proposes for the
// element picked (best first, each with how many elements it matches), and the selector field,
// whose matches the page outlines as it is typed ("Matches 3 elements on this page").

/** The picked element, its proposed selectors and the selector field. */
export class SelectorPicking {
  #ui;
  #page;

  /**
   * @param ui pick (#pick-toggle), picked (#picked-element), proposals (#selector-proposals),
   *   selector (#selector), selectorCount (#selector-count)
   * @param page the edited page (edited-page.js)
   */
  constructor(ui, page) {
    this.#ui = ui;
    this.#page = page;
    ui.pick.addEventListener('change', () => this.sendPickMode());
    ui.selector.addEventListener('input', () => page.send({ t: 'probe', selector: ui.selector.value }));
  }

  /** Tells the page whether clicks pick elements (a page that just answered is told again). */
  sendPickMode() {
    this.#page.send({ t: 'pick', on: this.#ui.pick.checked });
  }

  /** The page's `picked` message: the element and its proposed selectors (the first one is used). */
  showPicked(message) {
    const ui = this.#ui;
    ui.picked.textContent = `<${message.tag}> ${message.text ? `“${message.text}”` : ''}`;
    ui.proposals.replaceChildren(...message.selectors.map(({ selector, count }) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.selector = selector;
      button.textContent = `${selector}  (${count === 1 ? 'this element only' : `${count} elements`})`;
      button.addEventListener('click', () => this.#use(selector));
      item.append(button);
      return item;
    }));
    if (message.selectors.length) this.#use(message.selectors[0].selector);
  }

  /** The page's `probed` message: how many elements the selector in the field matches. */
  showCount(message) {
    const ui = this.#ui;
    if (message.selector !== ui.selector.value) return; // the field changed since
    ui.selectorCount.textContent = message.count === null ? 'The browser cannot read this selector.'
      : `Matches ${message.count} element${message.count === 1 ? '' : 's'} on this page.`;
  }

  #use(selector) {
    this.#ui.selector.value = selector;
    this.#page.send({ t: 'probe', selector });
  }
}
