// Where the SDK's own hosts with controls (the bar, the notices) go in the page: first in its tab
// order, so that a keyboard reaches Exit, Allow or Close with one Tab from the page's start instead
// of after every link of the page (WCAG 2.4.3). They never take the focus themselves.

/**
 * Puts `host` (a position: fixed shadow host, never shared) first in `<body>`, or at the end of
 * `<html>` before the body is parsed (the body, when it comes, follows it). Inside the body, not
 * before it: tools and assistive technology expect page content there (axe-core, for one, cannot
 * tell the contrast of text outside it). Being fixed, it takes no room in the page's layout; only
 * the page's own `body > :first-child` rules, if it has any, now find the host first.
 */
export function insertFirstInTabOrder(host) {
  const body = document.body;
  if (body) body.prepend(host);
  else document.documentElement.appendChild(host);
}
