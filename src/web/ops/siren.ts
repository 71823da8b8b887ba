
const STORAGE_KEY = 'complaint-desk.ops.muted';

/**
 * The siren: a short two-tone sound made with WebAudio (no audio file to fetch, nothing for the
 * CSP to allow). Browsers start audio only after a user gesture on the page, so the page offers
 * a button that both unmutes and unlocks; the muted choice is remembered on this screen.
 */
export class Siren {
  #context: AudioContext | null = null;
  #muted: boolean;
  #unlocked = false;
  /** How many times the siren sounded (shown on the page for people and tests). */
  played = 0;

  constructor(private readonly onChange: (muted: boolean) => void) {
    this.#muted = localStorage.getItem(STORAGE_KEY) === 'true';
  }

  get muted(): boolean {
    return this.#muted;
  }

  /** Whether a gesture has let the page make sound yet. */
  get unlocked(): boolean {
    return this.#unlocked;
  }

  /** Any click or key press on the page: the gesture browsers wait for before they play sound. */
  unlock(): void {
    if (this.#unlocked) return;
    this.#unlocked = true;
    void this.#audio()?.resume();
    this.onChange(this.#muted);
  }

  /**
   * The siren button or M. While sound is still locked, the first press allows it (rather than
   * muting a siren nobody has heard yet); afterwards it mutes and unmutes.
   */
  toggle(): void {
    if (!this.#unlocked && !this.#muted) {
      this.unlock();
      return;
    }
    this.#muted = !this.#muted;
    localStorage.setItem(STORAGE_KEY, String(this.#muted));
    if (!this.#muted) this.unlock();
    this.onChange(this.#muted);
  }

  #audio(): AudioContext | null {
    if (this.#context) return this.#context;
    const Context = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Context) return null;
    this.#context = new Context();
    return this.#context;
  }

  /** About 1.2 s: three rising and falling sweeps, quiet enough not to startle a room. */
  sound(): void {
    if (this.#muted) return;
    const audio = this.#audio();
    if (!audio) return;
    void audio.resume();
    const start = audio.currentTime + 0.02;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = 'triangle';
    for (let i = 0; i < 3; i++) {
      oscillator.frequency.setValueAtTime(660, start + i * 0.4);
      oscillator.frequency.linearRampToValueAtTime(990, start + i * 0.4 + 0.2);
      oscillator.frequency.linearRampToValueAtTime(660, start + i * 0.4 + 0.4);
    }
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.05);
    gain.gain.setValueAtTime(0.25, start + 1.1);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 1.2);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + 1.25);
    this.played++;
  }
}
