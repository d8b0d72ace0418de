// Code prompt: the SDK's own dialog for a voice call (CoBrowse.startWithCode() without a code).
// The customer types the six digits the agent reads out; a wrong, expired or used code is
// said in the dialog, which stays open for another try, until a session starts or the customer
// cancels. In its own shadow root, like the bar: the page's styles cannot hide or restyle it.
// Its words come from the session's catalogue (sdk/i18n/).
import { failureSentence } from './end-notice.js';
import { followVisualViewport } from './visual-viewport.js';

/** Stops the open prompt's backdrop following the visual viewport (a no-op without a prompt). */
let stopOpenPrompt = () => {};

const STYLE = `
:host { all: initial; }
.backdrop { position: fixed; inset: 0; z-index: 2147483647; background: rgba(15, 23, 42, .45);
  display: flex; align-items: center; justify-content: center; font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.dialog { background: #fff; color: #111827; border-radius: 10px; padding: 20px; width: min(92%, 360px);
  box-shadow: 0 12px 32px rgba(0, 0, 0, .25); box-sizing: border-box; max-height: calc(100% - 16px); overflow: auto; }
h2 { font-size: 18px; margin: 0 0 8px; }
p { margin: 0 0 12px; }
label { display: block; font-weight: 600; margin-bottom: 4px; }
input { box-sizing: border-box; width: 100%; font: 600 24px/1.2 ui-monospace, monospace; letter-spacing: .3em; padding: 8px 10px;
  border: 2px solid #6b7280; border-radius: 6px; color: #111827; background: #fff; }
.error { color: #b91c1c; min-height: 1.4em; margin: 8px 0 0; }
.actions { display: flex; gap: 8px; justify-content: flex-end; margin-top: 12px; }
button { font: 600 15px/1 system-ui, sans-serif; padding: 10px 16px; border-radius: 6px; cursor: pointer; border: 2px solid #1d4ed8; }
button.start { background: #1d4ed8; color: #fff; }
button.cancel { background: #fff; color: #1d4ed8; }
button:focus-visible, input:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
button:disabled { opacity: .6; cursor: default; }
`;

/**
 * Opens the dialog. `submit(code)` starts a session with a code and returns a promise of the
 * start's result; the dialog closes when it resolves. Returns a promise of that result, rejected
 * with `{ code: 'cancelled' }` if the customer cancels. `t`: the sentences (sdk/i18n/languages.js).
 */
export function askForCode(submit, t) {
  removeCodePrompt();
  const opener = document.activeElement;
  const host = document.createElement('cobrowse-code-prompt');
  host.lang = t.language;
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `<style>${STYLE}</style>
    <div class="backdrop">
      <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="title" aria-describedby="hint" novalidate>
        <h2 id="title">${t.html('codePrompt.title')}</h2>
        <p id="hint">${t.html('codePrompt.hint')}</p>
        <label for="code">${t.html('codePrompt.label')}</label>
        <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" pattern="[0-9]{6}"
               aria-describedby="error" required>
        <p class="error" id="error" role="alert"></p>
        <div class="actions">
          <button class="cancel" type="button">${t.html('codePrompt.cancel')}</button>
          <button class="start" type="submit">${t.html('codePrompt.start')}</button>
        </div>
      </form>
    </div>`;
  const form = root.querySelector('form');
  const input = root.getElementById('code');
  const error = root.getElementById('error');
  const start = root.querySelector('button.start');
  // In the body, as page content: tools and assistive technology look for it there (axe-core
  // cannot tell the contrast of text outside it).
  (document.body || document.documentElement).append(host);
  // Pinch zoom or an on-screen keyboard (the field has the focus): the backdrop covers what the
  // customer sees, and the dialog is centred in it at its usual size.
  const stopFollowing = followVisualViewport(root.querySelector('.backdrop'), 'cover');
  stopOpenPrompt = stopFollowing;
  input.focus();

  return new Promise((resolve, reject) => {
    const close = () => {
      stopFollowing();
      host.remove();
      if (opener && typeof opener.focus === 'function') opener.focus();
    };
    const say = (text, code) => {
      error.textContent = text;
      if (code) host.dataset.refusal = code; else delete host.dataset.refusal;
      input.setAttribute('aria-invalid', text ? 'true' : 'false');
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const code = input.value.replace(/\s+/g, '');
      if (!/^[0-9]{6}$/.test(code)) {
        say(t('codePrompt.malformed'), 'malformed');
        input.focus();
        return;
      }
      say('');
      start.disabled = true;
      submit(code).then((result) => {
        close();
        resolve(result);
      }, (failure) => {
        start.disabled = false;
        const refusal = failure && failure.code;
        say(failureSentence(t, refusal || 'unavailable'), refusal || 'unavailable');
        input.select();
        input.focus();
      });
    });
    const cancel = () => {
      close();
      reject(Object.assign(new Error('the customer cancelled the code prompt'), { code: 'cancelled' }));
    };
    root.querySelector('button.cancel').addEventListener('click', cancel);
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') cancel();
      // Focus stays in the dialog while it is open (aria-modal).
      if (event.key === 'Tab') {
        const stops = [input, root.querySelector('button.cancel'), start].filter((element) => !element.disabled);
        const at = stops.indexOf(root.activeElement);
        if (event.shiftKey && at <= 0) { event.preventDefault(); stops[stops.length - 1].focus(); }
        else if (!event.shiftKey && at === stops.length - 1) { event.preventDefault(); stops[0].focus(); }
      }
    });
  });
}

/** Removes an open code prompt (a session started some other way, the page is leaving). */
export function removeCodePrompt() {
  stopOpenPrompt();
  stopOpenPrompt = () => {};
  for (const prompt of document.querySelectorAll('cobrowse-code-prompt')) prompt.remove();
}
