// Admin API: the rules editor's requests to the relay's editor API (/cobrowse/editor/*,
// PUT /cobrowse/rules) with the administrator's token, and the sign-in form that asks for that
// token (kept for the tab) when there is none or the relay refused it.

/** Where the token is kept for the tab, so a reload does not ask again. */
const TOKEN_KEY = 'cobrowse.editor.token';

/** The administrator's token and the requests made with it. */
export class AdminAPI {
  #token = sessionStorage.getItem(TOKEN_KEY) || '';
  #ui;

  /**
   * @param ui signIn (#admin-sign-in), token (#admin-token), signInError (#admin-error)
   * @param signedIn () => … the form was sent: start again with its token
   */
  constructor(ui, signedIn) {
    this.#ui = ui;
    ui.signIn.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#token = ui.token.value.trim();
      sessionStorage.setItem(TOKEN_KEY, this.#token);
      signedIn();
    });
  }

  /**
   * A request to the relay, with the token if there is one. A refusal (401, 403) shows the
   * sign-in form, saying why when a token was refused, and throws.
   */
  async request(path, { method = 'GET', body } = {}) {
    const headers = {};
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
    const response = await fetch(path, { method, body, headers, cache: 'no-store', credentials: 'omit' });
    if (response.status === 401 || response.status === 403) {
      const answer = await response.json().catch(() => ({}));
      this.#signedOut(answer.error || 'not allowed');
      throw new Error(answer.error || 'not allowed');
    }
    return response;
  }

  /** The relay answered with the token (or needs none): the editor is ready, the form goes. */
  accepted() {
    document.body.dataset.state = 'ready';
    this.#ui.signIn.hidden = true;
  }

  #signedOut(reason) {
    document.body.dataset.state = 'signed-out';
    this.#ui.signIn.hidden = false;
    this.#ui.signInError.textContent = this.#token ? reason : '';
  }
}
