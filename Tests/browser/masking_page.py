"""What the masking tests do on the demo's masking pages, and the secrets they look for.

`Services/DOMRelay/Web/Demo/masking.html` and `statement.html` hold secrets in every place a
masking rule covers, each starting with `SECRET` below; `masking-rules.json` holds their rules.
The scripts here add more secrets while the agent watches: by mutation (under a masked
ancestor, moved under one, an element that becomes masked), text and attribute edits, values
set by the page's scripts. Text starting `PUBLIC` must reach the agent.
"""

import re

SECRET = "ZZSECRET"
SECRET_PATTERN = re.compile(SECRET + r"[\w.-]*")

# Typed by the customer (Selenium keystrokes), element id → text.
TYPED_SECRETS = {
    "masked-typed": "ZZSECRET-typed-word",
    "password": "ZZSECRET-password-typed",
    "new-password": "ZZSECRET-new-password",
    "otp": "ZZSECRET-otp-123456",
    "card-number": "-ZZSECRET-typed-card",
    "card-csc": "ZZSECRET-csc",
    # Values masked by their field's secret-sounding id, name or autocomplete.
    "member-pin": "-ZZSECRET-pin-typed",
    "card-check": "ZZSECRET-cvv-typed",
    "recovery": "ZZSECRET-recovery-typed",
    # Last: the contenteditable typed into next is just below it (a click scrolled far would land
    # under the sticky header).
    "masked-textarea": " ZZSECRET-textarea-typed",
}
PUBLIC_TYPED = "PUBLIC-typed-value"

# Run in the customer's page (execute_async_script): each step its own MutationObserver
# callback, then a sentinel the agent's view shows once everything before it went through.
LATER_SECRETS = r"""
const done = arguments[arguments.length - 1];
const $ = (id) => document.getElementById(id);
const tick = () => new Promise((resolve) => setTimeout(resolve, 40));
(async () => {
  const area = $('public-area');
  const box = $('masked-box');
  // Added under a masked ancestor.
  box.insertAdjacentHTML('beforeend',
    '<p id="late-under-mask" title="ZZSECRET-late-title" data-x="ZZSECRET-late-data">ZZSECRET-late-text</p>');
  await tick();
  // Moved under a masked ancestor, then its text edited.
  box.appendChild($('mover'));
  await tick();
  $('mover').firstChild.data = 'ZZSECRET-moved-text';
  await tick();
  // Added in the open, and moved under a masked ancestor in the same task.
  const transit = document.createElement('p');
  transit.id = 'transit';
  transit.textContent = 'ZZSECRET-transit-text';
  area.appendChild(transit);
  box.appendChild(transit);
  await tick();
  // Becomes masked by a class change (a rule), then gets secrets.
  $('will-become-masked').classList.add('account-number');
  await tick();
  $('will-become-masked').firstChild.data = 'ZZSECRET-after-class';
  $('will-become-masked').title = 'ZZSECRET-after-class-title';
  $('will-become-masked').insertAdjacentHTML('beforeend', ' <b>ZZSECRET-after-class-child</b>');
  await tick();
  // Becomes masked by the marker attribute, secret in the same task.
  $('will-become-masked-2').setAttribute('data-cobrowse-mask', '');
  $('will-become-masked-2').firstChild.data = 'ZZSECRET-after-marker';
  await tick();
  // Becomes masked by its parent's class (a descendant rule), itself unchanged; then a secret.
  $('will-hold-masked').classList.add('holds-secrets');
  await tick();
  $('will-hold-masked').querySelector('.held-note').firstChild.data = 'ZZSECRET-after-ancestor-class';
  await tick();
  // Text and attribute edits inside masked elements.
  $('ssn').firstChild.data = 'ZZSECRET-ssn-edited';
  await tick();
  $('ssn').setAttribute('title', 'ZZSECRET-ssn-title');
  $('ssn').setAttribute('data-extra', 'ZZSECRET-ssn-data');
  $('masked-preset').setAttribute('value', 'ZZSECRET-value-attr');
  $('masked-preset').setAttribute('aria-label', 'ZZSECRET-aria-late');
  $('masked-preset').setAttribute('placeholder', 'ZZSECRET-placeholder-late');
  $('masked-editable').firstChild.data = 'ZZSECRET-editable-edit';
  await tick();
  // Values set by the page's own scripts.
  $('masked-typed').value = 'ZZSECRET-script-value';
  $('card-csc').value = 'ZZSECRET-csc-script';
  $('masked-textarea').value = 'ZZSECRET-textarea-script';
  $('hidden-token').value = 'ZZSECRET-hidden-script';
  await tick();
  // Inside and on the blocked element.
  const chat = $('chat-history');
  chat.insertAdjacentHTML('beforeend', '<p>ZZSECRET-chat-late</p>');
  chat.setAttribute('data-note', 'ZZSECRET-blocked-attr-late');
  chat.title = 'ZZSECRET-blocked-title';
  chat.querySelector('p').firstChild.data = 'ZZSECRET-chat-edit';
  await tick();
  // A blocked element, masked images, always-masked fields and a rule's element, added later.
  area.insertAdjacentHTML('beforeend',
    '<div class="cobrowse-block" id="late-block" title="ZZSECRET-late-block-title" style="height:40px">ZZSECRET-late-block</div>');
  await tick();
  area.insertAdjacentHTML('beforeend',
    '<img class="id-photo" id="late-photo" src="id-photo.svg?ZZSECRET-late-photo" alt="ZZSECRET-late-photo-alt" width="30" height="20">');
  $('id-photo').setAttribute('src', 'id-photo.svg?ZZSECRET-photo-src-late');
  $('id-photo').setAttribute('alt', 'ZZSECRET-photo-alt-late');
  await tick();
  area.insertAdjacentHTML('beforeend',
    '<input type="hidden" id="late-hidden" value="ZZSECRET-late-hidden"><input type="password" id="late-password" value="ZZSECRET-late-password-attr">');
  await tick();
  $('late-password').value = 'ZZSECRET-late-password-prop';
  await tick();
  area.insertAdjacentHTML('beforeend',
    '<div id="late-data-secret" data-secret="ZZSECRET-late-data-secret">ZZSECRET-late-data-secret-text</div>');
  await tick();
  // Inside open shadow roots.
  $('shadow-open-host').shadowRoot.getElementById('shadow-inner-mask').append(' ZZSECRET-shadow-late');
  $('shadow-masked-host').shadowRoot.getElementById('shadow-secret').firstChild.data = 'ZZSECRET-shadow-edit';
  await tick();
  // A "show password" toggle: still masked.
  $('password').type = 'text';
  await tick();
  $('password').value = 'ZZSECRET-revealed-password';
  await tick();
  // A field that becomes a card field by its autocomplete attribute.
  const card = document.createElement('input');
  card.id = 'late-card';
  area.appendChild(card);
  await tick();
  card.setAttribute('autocomplete', 'cc-number');
  await tick();
  card.value = 'ZZSECRET-late-card';
  await tick();
  // A value set by the page's script in a field named like a secret, and a field whose name
  // comes to say it holds one.
  $('card-check').value = 'ZZSECRET-cvv-script';
  await tick();
  const code = document.createElement('input');
  code.id = 'late-code';
  area.appendChild(code);
  await tick();
  code.setAttribute('name', 'confirm-PIN');
  await tick();
  code.value = 'ZZSECRET-late-pin';
  await tick();
  area.insertAdjacentHTML('beforeend', '<p id="sentinel">PUBLIC-sentinel</p>');
  done(true);
})().catch((error) => done('error: ' + error));
"""

# What must reach the agent on masking.html once LATER_SECRETS ran (element → expected).
MASKING_PAGE_PROBE = r"""
const q = (selector) => doc.querySelector(selector);
const text = (selector) => { const e = q(selector); return e ? e.textContent.trim() : null; };
const shadow = q('#shadow-open-host') && q('#shadow-open-host').shadowRoot;
const chat = q('#chat-history');
return {
  heading: text('#visible-heading'),
  greeting: (text('#visible-text') || '').slice(0, 15),
  nickname: q('#public-input') ? q('#public-input').value : null,
  shadowPublic: shadow && shadow.getElementById('shadow-public') ? shadow.getElementById('shadow-public').textContent : null,
  ssn: text('#ssn'),
  preset: q('#masked-preset') ? q('#masked-preset').value : null,
  options: Array.from(doc.querySelectorAll('#masked-select option'), (o) => o.textContent),
  chatChildren: chat ? chat.childNodes.length : null,
  becameMasked: text('#will-become-masked'),
  heldNote: text('#will-hold-masked .held-note'),
  moverMasked: text('#masked-box #mover'),
  maskedCheck: q('#masked-check') ? q('#masked-check').checked : null,
  pin: q('#member-pin') ? [q('#member-pin').value, q('#member-pin').title] : null,
  cvv: q('#card-check') ? q('#card-check').value : null,
  recovery: q('#recovery') ? q('#recovery').value : null,
  lateCode: q('#late-code') ? q('#late-code').value : null,
  sentinel: text('#sentinel'),
};
"""

MASKING_PAGE_EXPECTED = {
    "heading": "Your account",
    "greeting": "PUBLIC-greeting",
    "nickname": PUBLIC_TYPED,
    "shadowPublic": "PUBLIC-shadow-text",
    "ssn": "****",
    "preset": "****",
    "options": ["****", "****"],
    "chatChildren": 0,
    "becameMasked": "**** ****",
    "heldNote": "****",
    "moverMasked": "****",
    "maskedCheck": False,
    "pin": ["****", "PUBLIC-pin-title"],
    "cvv": "****",
    "recovery": "****",
    "lateCode": "****",
    "sentinel": "PUBLIC-sentinel",
}

STATEMENT_LATER = r"""
document.getElementById('statement-area').insertAdjacentHTML('beforeend',
  '<p id="statement-late" title="ZZSECRET-statement-late-title">ZZSECRET-statement-late</p>' +
  '<img id="statement-late-image" src="id-photo.svg?ZZSECRET-statement-late-image" width="20" height="20">');
document.title = 'Statement ZZSECRET-statement-title-late';
document.getElementById('statement-search').value = 'ZZSECRET-statement-search-script';
setTimeout(() => document.getElementById('statement-area').insertAdjacentHTML('beforeend',
  '<p id="statement-sentinel">PUBLIC-but-masked-like-everything-here</p>'), 60);
"""

STATEMENT_PROBE = r"""
const q = (selector) => doc.querySelector(selector);
return {
  rows: doc.querySelectorAll('#statement-table tbody tr').length,
  heading: q('#statement-heading') ? q('#statement-heading').textContent : null,
  search: q('#statement-search') ? q('#statement-search').value : null,
  sentinel: q('#statement-sentinel') ? q('#statement-sentinel').textContent : null,
};
"""

STATEMENT_EXPECTED = {"rows": 2, "heading": "****", "search": "****", "sentinel": "****"}

# Everything the agent's browser holds of the customer's page: the view's text, comments,
# attributes, form values and image sources (open shadow roots included), and the console's
# own document (its header shows the page's title and URL).
AGENT_DOM_DUMP = r"""
const out = [document.documentElement.outerHTML];
const view = document.getElementById('cobrowse-view').contentDocument;
function walk(node) {
  if (node.nodeType === Node.TEXT_NODE || node.nodeType === Node.COMMENT_NODE) { out.push(node.data); return; }
  if (node.nodeType === Node.ELEMENT_NODE) {
    for (const attribute of node.attributes) out.push(attribute.name + '=' + attribute.value);
    if (typeof node.value === 'string') out.push(node.value);
    if (node.currentSrc) out.push(node.currentSrc);
    if (node.shadowRoot) for (const child of node.shadowRoot.childNodes) walk(child);
    // A same-origin frame's document, as the console rebuilt it.
    if (node.localName === 'iframe' || node.localName === 'frame') {
      let frameDocument = null;
      try { frameDocument = node.contentDocument; } catch (e) { frameDocument = null; }
      if (frameDocument) for (const child of frameDocument.childNodes) walk(child);
    }
  }
  for (const child of node.childNodes) walk(child);
}
if (view && view.documentElement) {
  out.push(view.title);
  walk(view.documentElement);
}
return out.join('\n');
"""


# frames.html (same-origin frames): typed by the customer in the content frame, element id → text.
FRAME_TYPED_SECRETS = {
    "frame-password": "ZZSECRET-frame-password-typed",
    "frame-masked": "ZZSECRET-frame-masked-typed",
}
FRAME_PUBLIC_TYPED = "PUBLIC-frame-typed"

# Run in the customer's page: secrets added inside the frames while the agent watches, each step
# its own MutationObserver callback, then a sentinel in the content frame.
FRAME_LATER_SECRETS = r"""
const done = arguments[arguments.length - 1];
const content = document.getElementById('content-frame').contentDocument;
const masked = document.getElementById('masked-frame').contentDocument;
const tick = () => new Promise((resolve) => setTimeout(resolve, 40));
(async () => {
  content.getElementById('frame-masked-text').firstChild.data = 'ZZSECRET-frame-masked-edit';
  await tick();
  content.getElementById('frame-masked-text').insertAdjacentHTML('beforeend', ' <b title="ZZSECRET-frame-late-title">ZZSECRET-frame-late-child</b>');
  await tick();
  content.body.insertAdjacentHTML('beforeend', '<input type="password" id="frame-late-password" value="ZZSECRET-frame-late-password">');
  await tick();
  content.getElementById('frame-late-password').value = 'ZZSECRET-frame-late-password-prop';
  content.getElementById('frame-masked').value = 'ZZSECRET-frame-masked-script';
  await tick();
  masked.getElementById('saved-card').firstChild.data = 'ZZSECRET-masked-frame-edit';
  masked.body.insertAdjacentHTML('beforeend', '<p id="masked-frame-late" data-x="ZZSECRET-masked-frame-late-data">ZZSECRET-masked-frame-late</p>');
  masked.getElementById('saved-card-input').value = 'ZZSECRET-masked-frame-input-script';
  await tick();
  content.body.insertAdjacentHTML('beforeend', '<p id="frame-sentinel">PUBLIC-frame-sentinel</p>');
  done(true);
})().catch((error) => done('error: ' + error));
"""

# What the agent's view shows of frames.html's frames once FRAME_LATER_SECRETS ran.
FRAME_PAGE_PROBE = r"""
const frame = (id) => { const f = doc.getElementById(id); return f && f.contentDocument; };
const content = frame('content-frame');
const masked = frame('masked-frame');
const q = (d, selector) => (d ? d.querySelector(selector) : null);
const text = (d, selector) => { const e = q(d, selector); return e ? e.textContent.trim() : null; };
const value = (d, selector) => { const e = q(d, selector); return e ? e.value : null; };
return {
  text: (text(content, '#frame-text') || '').slice(0, 17),
  maskedText: text(content, '#frame-masked-text'),
  maskedValue: value(content, '#frame-masked'),
  password: value(content, '#frame-password'),
  latePassword: value(content, '#frame-late-password'),
  savedCard: text(masked, '#saved-card'),
  savedCardInput: value(masked, '#saved-card-input'),
  maskedFrameLate: text(masked, '#masked-frame-late'),
  sentinel: text(content, '#frame-sentinel'),
};
"""

FRAME_PAGE_EXPECTED = {
    "text": "PUBLIC-frame-text",
    "maskedText": "**** ****",
    "maskedValue": "****",
    "password": "****",
    "latePassword": "****",
    "savedCard": "****",
    "savedCardInput": "****",
    "maskedFrameLate": "****",
    "sentinel": "PUBLIC-frame-sentinel",
}


def secrets_in(text):
    """The secrets (ZZSECRET…) in `text`, each once, sorted."""
    return sorted(set(SECRET_PATTERN.findall(text or "")))
