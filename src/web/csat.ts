import './csat.css';

/**
 * The customer's survey page: pick a score, optionally write a comment, send. The answer goes
 * to the JSON API at the page's own URL (POST /v1/csat/:token); every word on the page was
 * written by the server in the customer's language, so this script carries no text.
 */
function main(): void {
  const form = document.getElementById('survey-form') as HTMLFormElement | null;
  if (!form) return;
  const message = document.getElementById('message')!;
  const send = document.getElementById('send') as HTMLButtonElement;
  const buttons = [...document.querySelectorAll<HTMLButtonElement>('button.score')];
  let score: number | null = null;

  const choose = (button: HTMLButtonElement) => {
    score = Number(button.dataset.score);
    for (const b of buttons) b.setAttribute('aria-pressed', String(b === button));
    message.textContent = '';
  };
  for (const button of buttons) button.addEventListener('click', () => choose(button));
  // Arrow keys move along the scale (in the reading direction), as in a radio group.
  const scale = document.querySelector<HTMLElement>('.scale');
  scale?.addEventListener('keydown', (event) => {
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (index < 0) return;
    const rtl = getComputedStyle(scale).direction === 'rtl';
    const step = event.key === 'ArrowRight' ? (rtl ? -1 : 1) : event.key === 'ArrowLeft' ? (rtl ? 1 : -1) : 0;
    if (!step) return;
    event.preventDefault();
    const next = buttons[Math.min(buttons.length - 1, Math.max(0, index + step))]!;
    next.focus();
    choose(next);
  });

  const show = (id: string) => {
    for (const section of document.querySelectorAll<HTMLElement>('main > section')) section.hidden = section.id !== id;
    document.getElementById(id)?.querySelector('h1')?.focus();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (score === null) {
      message.textContent = document.body.dataset.chooseFirst ?? '';
      buttons[0]?.focus();
      return;
    }
    const comment = (document.getElementById('comment') as HTMLTextAreaElement).value.trim();
    send.disabled = true;
    fetch(location.pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(comment ? { score, comment } : { score }),
      credentials: 'omit',
    })
      .then((response) => {
        if (response.status === 201) show('done');
        else if (response.status === 409) show('answered');
        else if (response.status === 410) show('expired');
        else throw new Error(String(response.status));
      })
      .catch(() => {
        message.textContent = document.body.dataset.error ?? '';
      })
      .finally(() => {
        send.disabled = false;
      });
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
