import './ops.css';
import { byId, setText } from './shared/dom.js';
import { createApi } from './ops/api.js';
import { viewerTimeZone } from './ops/format.js';
import { Siren } from './ops/siren.js';
import { LiveStream } from './ops/stream.js';
import { Wall } from './ops/wall.js';

/**
 * The operations wall's entry point (GET /ops serves the page and this bundle). The page's
 * settings come from data attributes the server wrote, never from inline script (the CSP
 * allows none).
 */
function main(): void {
  const settings = document.body.dataset;
  const api = createApi({ loginUrl: settings.loginUrl ?? '/admin/login' });
  const soundButton = byId<HTMLButtonElement>('sound');
  const showSound = (muted: boolean) => {
    const on = !muted && siren.unlocked;
    soundButton.setAttribute('aria-pressed', String(on));
    setText(soundButton, muted ? '✕ Siren off (M)' : on ? '♪ Siren on (M)' : '♪ Allow the siren (M)');
  };
  const siren: Siren = new Siren(showSound);
  showSound(siren.muted);
  soundButton.addEventListener('click', () => siren.toggle());
  // Any other click or key press also allows sound (the siren's own button and M toggle it).
  const allowSound = (event: Event) => {
    if (event.target === soundButton || (event instanceof KeyboardEvent && event.key.toLowerCase() === 'm')) return;
    siren.unlock();
  };
  document.addEventListener('pointerdown', allowSound);
  document.addEventListener('keydown', allowSound);
  setText(byId('tz'), viewerTimeZone());

  const wall = new Wall(api, siren);
  const stream = new LiveStream(settings.streamUrl ?? '/ops/stream', {
    onMessage: (message) => wall.onStreamMessage(message),
    onState: (state, since) => wall.setLink(state, since),
    onOpen: (reconnected) => {
      if (reconnected) wall.reloadAll();
    },
    // A refused stream may mean the session ended: a 401 on the check sends the person to sign in.
    onFailure: () => void api.check('/ops/api/wall?limit=1&within=1m'),
  });

  document.addEventListener('keydown', (event) => {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === 'm' || event.key === 'M') siren.toggle();
    if (event.key === 'r' || event.key === 'R') wall.reloadAll();
  });

  wall.start();
  stream.start();
  // For people and tests: the page's own view of its state.
  document.body.dataset.ready = 'true';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
