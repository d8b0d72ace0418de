// Voice call: the console's side of voice codes (docs/agent-console.md, "Voice calls"). The
// agent asks for a code bound to the call's interaction, reads it out, and the console joins
// the session as soon as the customer has typed it into the SDK's prompt. Its words are the
// console's catalogue's (i18n/): `voice.refused.<code>` for each refusal of the relay.
import { t } from './i18n/languages.js';

/** How often the console asks whether the customer typed the code yet. */
const POLL_MS = 1000;

/** Six digits read out in two groups: "042 137". */
function spoken(code) {
  return `${code.slice(0, 3)} ${code.slice(3)}`;
}

/**
 * Wires the voice call section of the sign-in form. `agentToken()` is the token the agent
 * signed in with (or typed); `join(token, sessionId)` joins a session.
 */
export class VoiceCall {
  constructor({ section, interaction, button, demoButton, code, status, timeLeft, agentToken, join }) {
    Object.assign(this, { section, interaction, button, code, status, timeLeft, agentToken, join });
    this.poller = null;
    this.countdown = null;
    button.addEventListener('click', () => this.ask(interaction.value.trim()));
    // Dev mode only (the relay's token endpoints stand in for the contact center): a call to try it with.
    fetch('/dev/interaction-token?channel=voice', { cache: 'no-store', credentials: 'omit' })
      .then((response) => { demoButton.hidden = !response.ok; }, () => {});
    demoButton.addEventListener('click', () => {
      fetch('/dev/interaction-token?channel=voice', { cache: 'no-store', credentials: 'omit' })
        .then((response) => response.json())
        .then(({ token }) => {
          interaction.value = token;
          this.ask(token);
        }, () => this.say(t('voice.demoFailed'), 'error'));
    });
  }

  say(text, kind = 'info') {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  /** Asks the relay for a code for the call whose interaction token this is. */
  async ask(interactionToken) {
    const agentToken = this.agentToken();
    if (!agentToken) return this.say(t('voice.noAgentToken'), 'error');
    if (!interactionToken) return this.say(t('voice.noInteraction'), 'error');
    this.stop();
    this.button.disabled = true;
    let answer;
    let response;
    try {
      response = await fetch('/cobrowse/voice-codes', {
        method: 'POST', cache: 'no-store', credentials: 'omit', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ agentToken, interactionToken }),
      });
      answer = await response.json().catch(() => ({}));
    } catch {
      answer = { code: 'unavailable' };
    } finally {
      this.button.disabled = false;
    }
    if (!response || !response.ok) {
      const refusal = typeof answer.code === 'string' && t.has(`voice.refused.${answer.code}`) ? t(`voice.refused.${answer.code}`) : null;
      return this.say(refusal || answer.message || t('voice.failed'), 'error');
    }
    this.show(answer, agentToken);
  }

  show({ code, expiresAt }, agentToken) {
    this.code.hidden = false;
    this.code.textContent = spoken(code);
    this.code.dataset.code = code;
    this.section.dataset.state = 'waiting';
    const until = Date.parse(expiresAt);
    // The sentence is said once (announced); the time left changes every second beside it, silently.
    this.say(t('voice.waiting'));
    const tick = () => {
      const seconds = Math.max(0, Math.round((until - Date.now()) / 1000));
      if (seconds === 0) {
        this.stop();
        this.section.dataset.state = 'expired';
        this.say(t('voice.expired'), 'error');
        return;
      }
      this.timeLeft.hidden = false;
      this.timeLeft.textContent = t('voice.timeLeft', { time: `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}` });
    };
    tick();
    this.countdown = setInterval(tick, 1000);
    this.poller = setInterval(() => this.check(code, agentToken), POLL_MS);
  }

  /** Has the customer typed it? Then join at once. */
  async check(code, agentToken) {
    let answer;
    try {
      const response = await fetch(`/cobrowse/voice-codes/${encodeURIComponent(code)}`, {
        cache: 'no-store', credentials: 'omit', headers: { Authorization: `Bearer ${agentToken}` },
      });
      if (!response.ok) return; // the relay or registry is busy: the next tick asks again
      answer = await response.json();
    } catch {
      return;
    }
    if (!this.poller || !answer.sessionID) return;
    this.stop();
    this.section.dataset.state = 'started';
    this.say(t('voice.joining'));
    this.join(agentToken, answer.sessionID);
  }

  stop() {
    this.timeLeft.hidden = true;
    clearInterval(this.poller);
    clearInterval(this.countdown);
    this.poller = null;
    this.countdown = null;
  }
}
