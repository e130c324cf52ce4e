/** Shared by the CLI and report tests: a strict XML well-formedness check and SVG queries. */

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
}

/** Throws on anything that is not well-formed XML; returns every element in document order. */
export function parseXml(text: string): XmlElement[] {
  let s = text.replace(/^\uFEFF/, '');
  s = s.replace(/^<\?xml[^?]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '');
  const elements: XmlElement[] = [];
  const stack: string[] = [];
  let roots = 0;
  let pos = 0;
  const checkText = (chunk: string): void => {
    if (chunk.includes('<')) throw new Error(`stray '<' in text near ${JSON.stringify(chunk.slice(0, 40))}`);
    const amp = /&(?!(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);)/.exec(chunk);
    if (amp) throw new Error(`unescaped '&' near ${JSON.stringify(chunk.slice(Math.max(0, amp.index - 20), amp.index + 20))}`);
    if (stack.length === 0 && chunk.trim() !== '') throw new Error(`text outside the root element: ${JSON.stringify(chunk.slice(0, 40))}`);
  };
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  while (pos < s.length) {
    const next = s.indexOf('<', pos);
    if (next < 0) {
      checkText(s.slice(pos));
      break;
    }
    checkText(s.slice(pos, next));
    if (s.startsWith('<![CDATA[', next)) {
      const end = s.indexOf(']]>', next);
      if (end < 0) throw new Error('unterminated CDATA');
      pos = end + 3;
      continue;
    }
    tag.lastIndex = next;
    const m = tag.exec(s);
    if (!m) throw new Error(`malformed tag at offset ${next}: ${JSON.stringify(s.slice(next, next + 60))}`);
    const [, closing, name, attrText, selfClosing] = m;
    if (closing) {
      if (selfClosing || attrText!.trim() !== '') throw new Error(`malformed closing tag </${name}>`);
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open ?? '(nothing)'}>`);
    } else {
      const attributes: Record<string, string> = {};
      for (const a of attrText!.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/g)) {
        if (a[1]! in attributes) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
        attributes[a[1]!] = a[3] ?? a[4] ?? '';
      }
      elements.push({ name: name!, attributes });
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(name!);
    }
    pos = tag.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]}>`);
  if (roots !== 1) throw new Error(`expected one root element, found ${roots}`);
  return elements;
}

/** Number of drawn items (paths/texts) inside the vega mark container whose class contains `markClass`. */
export function countMarkItems(svg: string, markClass: string): number {
  const re = new RegExp(`<g class="[^"]*\\b${markClass}\\b[^"]*"[^>]*>([\\s\\S]*?)</g>`, 'g');
  let count = 0;
  for (const m of svg.matchAll(re)) count += (m[1]!.match(/<(path|text)\b/g) ?? []).length;
  return count;
}
