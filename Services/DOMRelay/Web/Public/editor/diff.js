// Diff: a line diff of two texts (longest common subsequence), for the draft against the rules
// in force. Rules files are small: the quadratic table is a few thousand cells.

/**
 * The lines of `before` and `after` as `{ op, text }`: `' '` kept, `'-'` only in before,
 * `'+'` only in after, in reading order.
 */
export function lineDiff(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  const common = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const lines = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push({ op: ' ', text: a[i] });
      i += 1;
      j += 1;
    } else if (j < b.length && (i === a.length || common[i][j + 1] >= common[i + 1][j])) {
      lines.push({ op: '+', text: b[j] });
      j += 1;
    } else {
      lines.push({ op: '-', text: a[i] });
      i += 1;
    }
  }
  return lines;
}
