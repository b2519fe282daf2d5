"""Measures of generated audio: pitch (voiced, in tune) and the distance between average log spectra."""

from __future__ import annotations

import numpy as np

from twostep.data.audio import A4, frame_signal


def _f0_autocorrelation(frame: np.ndarray, sample_rate: int, fmin: float, fmax: float,
                        threshold: float) -> float | None:
    """The fundamental of one frame from its normalised autocorrelation (peak between the lags of
    ``fmax`` and ``fmin``, refined by parabolic interpolation), or None when unvoiced."""
    x = frame - frame.mean()
    energy = float(x @ x)
    if energy <= 1e-8:
        return None
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :] / energy
    lo, hi = int(sample_rate / fmax), min(int(sample_rate / fmin), len(ac) - 2)
    if hi <= lo:
        return None
    lag = lo + int(np.argmax(ac[lo:hi]))
    if ac[lag] < threshold:
        return None
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return sample_rate / (lag + shift)


def pitch_report(audio: np.ndarray, sample_rate: int = 8000, *, frame: int = 1024, hop: int = 512,
                 fmin: float = 100.0, fmax: float = 1000.0, voicing_threshold: float = 0.6,
                 tolerance_cents: float = 25.0) -> dict[str, float]:
    """Pitch measures of a waveform: the fraction of voiced frames (clear periodicity), and the
    fraction of voiced frames whose fundamental lies within ``tolerance_cents`` of an
    equal-tempered note (A4 = 440 Hz). Every frequency is within 50 cents of some note, so the
    default tolerance is 25 cents: a note "in tune" as a clarinet's would be."""
    frames = frame_signal(audio, frame, hop, "boxcar") if len(audio) >= frame else np.zeros((0, frame))
    f0 = [_f0_autocorrelation(f, sample_rate, fmin, fmax, voicing_threshold) for f in frames]
    voiced = np.array([f for f in f0 if f is not None])
    if len(voiced) == 0:
        return {"voiced_fraction": 0.0, "in_tune_fraction": 0.0, "mean_abs_cents": float("nan")}
    cents = 1200 * np.log2(voiced / A4)
    deviation = np.abs(cents - 100 * np.round(cents / 100))
    return {"voiced_fraction": len(voiced) / max(len(frames), 1),
            "in_tune_fraction": float(np.mean(deviation <= tolerance_cents)),
            "mean_abs_cents": float(deviation.mean())}


def average_log_spectrum(audio: np.ndarray, frame: int = 512, hop: int = 256) -> np.ndarray:
    """Mean over frames of the Hann-windowed power spectrum, in dB (a timbre summary)."""
    frames = frame_signal(audio, frame, hop)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return 10 * np.log10(power.mean(0) + 1e-10)


def log_spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Root-mean-square difference (dB) between the average log spectra of two waveforms, after
    removing each spectrum's mean level (so loudness does not count, timbre does)."""
    sa, sb = average_log_spectrum(a), average_log_spectrum(b)
    sa, sb = sa - sa.mean(), sb - sb.mean()
    return float(np.sqrt(np.mean((sa - sb) ** 2)))
