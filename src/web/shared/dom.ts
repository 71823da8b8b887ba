
/**
 * The few DOM helpers the pages need. Text only ever goes in through textContent (never
 * innerHTML), so names and notes from customers and agents cannot inject markup.
 */

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

/** Sets text only when it changed: a wall re-rendered every second should not touch the DOM needlessly. */
export function setText(node: Element, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

/** Text that may be right-to-left (a Hebrew or Arabic name) isolated inside a left-to-right row. */
export function isolated(text: string, className?: string): HTMLElement {
  return h('bdi', { dir: 'auto', class: className }, text);
}
