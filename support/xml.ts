/** An element read back from XML: its name, attributes (decoded), children and text. */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

/** Decodes the five XML entities; a bare `&` or `<`, or any other entity, is an error. */
function decode(raw: string, where: string): string {
  if (raw.includes('<')) throw new Error(`a bare < in ${where}: ${raw}`);
  return raw.replace(/&([^;]*);|&/g, (whole, name: string | undefined) => {
    const value = name === undefined ? undefined : ENTITIES[name];
    if (value === undefined) throw new Error(`a bare & or unknown entity in ${where}: ${whole}`);
    return value;
  });
}

/**
 * A strict reader for the plain XML Berth writes (elements, attributes in either quote,
 * text; no comments, CDATA or declarations): anything malformed, such as an unescaped
 * quote, `<` or `&`, is an error rather than a guess. Enough to read a domain back in tests.
 */
export function parseXml(xml: string): XmlElement {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${at}: ${JSON.stringify(xml.slice(at, at + 40))}`);
  };
  const skipSpace = (): void => {
    while (at < xml.length && /\s/.test(xml.charAt(at))) at += 1;
  };
  const element = (): XmlElement => {
    const open = /^<([A-Za-z_][\w.-]*)/.exec(xml.slice(at));
    if (open === null) return fail('expected an element');
    const name = open[1] ?? '';
    at += open[0].length;
    const attributes: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (xml.startsWith('/>', at)) {
        at += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (xml.startsWith('>', at)) {
        at += 1;
        break;
      }
      const attribute = /^([A-Za-z_][\w.-]*)=(?:'([^']*)'|"([^"]*)")/.exec(xml.slice(at));
      if (attribute === null) return fail(`a malformed attribute in <${name}>`);
      const key = attribute[1] ?? '';
      if (key in attributes) fail(`attribute ${key} twice in <${name}>`);
      attributes[key] = decode(attribute[2] ?? attribute[3] ?? '', `<${name} ${key}>`);
      at += attribute[0].length;
    }
    const node: XmlElement = { name, attributes, children: [], text: '' };
    for (;;) {
      const next = xml.indexOf('<', at);
      if (next < 0) return fail(`<${name}> is not closed`);
      node.text += decode(xml.slice(at, next), `<${name}>`);
      at = next;
      if (xml.startsWith(`</${name}>`, at)) {
        at += name.length + 3;
        return node;
      }
      if (xml.startsWith('</', at)) return fail(`a closing tag that does not match <${name}>`);
      node.children.push(element());
    }
  };
  skipSpace();
  const root = element();
  skipSpace();
  if (at !== xml.length) fail('text after the root element');
  return root;
}

/** The first element on a path of names below root (`os/kernel`), or undefined. */
export function child(root: XmlElement, path: string): XmlElement | undefined {
  let node: XmlElement | undefined = root;
  for (const name of path.split('/')) node = node?.children.find((each) => each.name === name);
  return node;
}

/** Every element with that name directly below root. */
export function childrenNamed(root: XmlElement, name: string): XmlElement[] {
  return root.children.filter((each) => each.name === name);
}
