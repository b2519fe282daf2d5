"""Audio for the paper's Fig. 4: the clarinet data, a clarinet-like synthesiser, and framing with
overlap-add."""

from __future__ import annotations

import numpy as np
from scipy.io import wavfile
from scipy.signal import get_window, resample_poly

from twostep.core.profiling import phased
from twostep.data.registry import dataset_path

A4 = 440.0


@phased("data loading")
def load_clarinet(sample_rate: int = 8000) -> list[np.ndarray]:
    """The authors' 40 synthetic clarinet sequences (``source2_0.wav`` ... ``source2_39.wav``,
    16 kHz) from ``<data dir>/clarinet/`` (checked against SHA256SUMS), resampled to ``sample_rate``
    with a polyphase filter and each divided by its standard deviation, as in the authors' code."""
    folder = dataset_path("clarinet")
    files = sorted(folder.glob("source2_*.wav"), key=lambda p: int(p.stem.split("_")[1]))
    out = []
    for path in files:
        sr, x = wavfile.read(path)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim > 1:
            x = x.mean(1)
        g = np.gcd(int(sr), int(sample_rate))
        y = resample_poly(x, sample_rate // g, sr // g)
        out.append((y / y.std()).astype(np.float32))
    return out


def synth_clarinet(duration: float = 6.0, sample_rate: int = 8000, *, note_length: float = 1.0,
                   low_midi: int = 50, octaves: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A clarinet-like monophonic sequence: random equal-tempered notes over ``octaves`` octaves from
    MIDI note ``low_midi``, each ``note_length`` seconds, made of odd harmonics (amplitude 1/k) under
    an attack-decay-release envelope. Returns the waveform (unit standard deviation) and the MIDI
    note of each note."""
    rng = np.random.default_rng(seed)
    n_notes = max(1, int(round(duration / note_length)))
    per_note = int(round(note_length * sample_rate))
    t = np.arange(per_note) / sample_rate
    attack, release = int(0.05 * sample_rate), int(0.1 * sample_rate)
    env = np.ones(per_note)
    env[:attack] = np.linspace(0, 1, attack)
    env[-release:] = np.linspace(1, 0, release)
    env *= np.exp(-0.5 * t)
    notes = rng.integers(low_midi, low_midi + 12 * octaves + 1, n_notes)
    pieces = []
    for midi in notes:
        f0 = A4 * 2 ** ((midi - 69) / 12)
        wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 40, 2) if k * f0 < sample_rate / 2)
        pieces.append(env * wave)
    y = np.concatenate(pieces)
    return (y / y.std()).astype(np.float32), notes


def frame_signal(x: np.ndarray, frame: int = 800, hop: int = 400, window: str = "hann") -> np.ndarray:
    """Overlapping frames of ``x`` (``frame`` samples every ``hop``), each multiplied by a periodic
    window (Hann by default; with hop = frame / 2 its shifted copies sum to one). Shape (n, frame)."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) < frame:
        raise ValueError(f"signal of {len(x)} samples is shorter than one frame of {frame}")
    n = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    return x[idx] * get_window(window, frame).astype(np.float32)[None, :]


def overlap_add(frames: np.ndarray, hop: int = 400) -> np.ndarray:
    """Sum frames at ``hop`` spacing (the resynthesis of the paper, after Oppenheim and Schafer)."""
    frames = np.asarray(frames, dtype=np.float32)
    n, frame = frames.shape
    out = np.zeros(hop * (n - 1) + frame, dtype=np.float32)
    for i in range(n):
        out[i * hop : i * hop + frame] += frames[i]
    return out


def playable(wave: np.ndarray) -> np.ndarray:
    """``wave`` scaled for listening: 4 standard deviations to full scale, clipped to [-1, 1]."""
    wave = np.asarray(wave)
    return np.clip(wave / (4 * wave.std()), -1, 1)


def write_wav(path, wave: np.ndarray, sample_rate: int) -> None:
    """Write :func:`playable` ``wave`` as a 16-bit WAV file."""
    wavfile.write(path, sample_rate, (playable(wave) * 32767).astype(np.int16))
