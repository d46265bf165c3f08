/** mulberry32: a small seeded PRNG, so a failing fuzz case can be run again. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const PIECES = [
  "'",
  '"',
  '`',
  '\\',
  '\\\\',
  "\\'",
  '\n',
  '\r\n',
  '\t',
  '\0',
  '\u0001',
  '\u001f',
  '\u007f',
  '\b',
  '\f',
  'é',
  'e\u0301',
  '😀',
  '中文',
  '\u202e',
  '\ufeff',
  "'; DROP TABLE results; --",
  '{x:String}',
  '$1',
  '?',
  '%s',
  'plain',
  ' ',
];

/** A string made of pieces that have broken escaping before, and random code points. */
export function hostileString(random: () => number, maxPieces = 12): string {
  const count = Math.floor(random() * maxPieces);
  let text = '';
  for (let index = 0; index < count; index += 1) {
    if (random() < 0.8) {
      text += PIECES[Math.floor(random() * PIECES.length)] ?? '';
    } else {
      let codePoint = Math.floor(random() * 0x10ffff);
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) codePoint = 0xfffd;
      text += String.fromCodePoint(codePoint);
    }
  }
  return text;
}
