// The customer's mark: a constructed sheet in the document (and open shadow roots) outlining
// what the agent does not see. Never serialized (serialize.js leaves the sheet out).

/** The constructed sheet marking masked fields on the customer's page: never sent. */
let markSheet = null;

/** Whether a sheet is the customer's mark (never sent). */
export function isMarkSheet(sheet) {
  return markSheet !== null && sheet === markSheet;
}

export function showMarks(css, shadowRoots) {
  if (!css) {
    if (markSheet) for (const root of [document, ...shadowRoots]) unadoptMarkSheet(root);
    markSheet = null;
    return;
  }
  try {
    if (!markSheet) markSheet = new CSSStyleSheet();
    markSheet.replaceSync(css);
  } catch {
    markSheet = null; // no constructable sheets (an old browser): no marks, masking is the same
    return;
  }
  for (const root of [document, ...shadowRoots]) adoptMarkSheet(root);
}

export function adoptMarkSheet(root) {
  if (markSheet && root.adoptedStyleSheets && !root.adoptedStyleSheets.includes(markSheet)) {
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, markSheet];
  }
}

function unadoptMarkSheet(root) {
  if (root.adoptedStyleSheets && root.adoptedStyleSheets.includes(markSheet)) {
    root.adoptedStyleSheets = root.adoptedStyleSheets.filter((sheet) => sheet !== markSheet);
  }
}
