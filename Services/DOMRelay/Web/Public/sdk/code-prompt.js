// Code prompt: the SDK's own dialog for a voice call (CoBrowse.startWithCode() without a code).
// The customer types the six digits the agent reads out; a wrong, expired or used code is
// said in the dialog, which stays open for another try, until a session starts or the customer
// cancels. In its own shadow root, like the bar: the page's styles cannot hide or restyle it.
import { failureSentence } from './end-notice.js';

const STYLE = `
:host { all: initial; }
.backdrop { position: fixed; inset: 0; z-index: 2147483647; background: rgba(15, 23, 42, .45);
  display: flex; align-items: center; justify-content: center; font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.dialog { background: #fff; color: #111827; border-radius: 10px; padding: 20px; width: min(92vw, 360px);
  box-shadow: 0 12px 32px rgba(0, 0, 0, .25); box-sizing: border-box; }
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
 * with `{ code: 'cancelled' }` if the customer cancels.
 */
export function askForCode(submit) {
  removeCodePrompt();
  const opener = document.activeElement;
  const host = document.createElement('cobrowse-code-prompt');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `<style>${STYLE}</style>
    <div class="backdrop">
      <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="title" aria-describedby="hint" novalidate>
        <h2 id="title">Share this page with your adviser</h2>
        <p id="hint">Enter the 6-digit code your adviser reads out to you on the phone.</p>
        <label for="code">Code</label>
        <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" pattern="[0-9]{6}"
               aria-describedby="error" required>
        <p class="error" id="error" role="alert"></p>
        <div class="actions">
          <button class="cancel" type="button">Cancel</button>
          <button class="start" type="submit">Start</button>
        </div>
      </form>
    </div>`;
  const form = root.querySelector('form');
  const input = root.getElementById('code');
  const error = root.getElementById('error');
  const start = root.querySelector('button.start');
  document.documentElement.append(host);
  input.focus();

  return new Promise((resolve, reject) => {
    const close = () => {
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
        say('The code has six digits.', 'malformed');
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
        say(failureSentence(refusal || 'unavailable'), refusal || 'unavailable');
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
  for (const prompt of document.querySelectorAll('cobrowse-code-prompt')) prompt.remove();
}
