"""Audio for the paper's Fig. 4: the clarinet data, a clarinet-like synthesiser, framing with
overlap-add, the authors' 1-d convolutional VAE, and measures of generated audio."""

from __future__ import annotations

import numpy as np
import torch
from scipy.io import wavfile
from scipy.signal import get_window, resample_poly
from torch import nn

from twostep.data import dataset_path
from twostep.models import LIKELIHOODS, Autoencoder
from twostep.utils import check_choice, check_float, check_int

A4 = 440.0


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


class AudioConvVAE(Autoencoder):
    """The authors' 1-d convolutional VAE for 800-sample frames: encoder Conv1d(1 -> c1, k, stride 2),
    tanh, Conv1d(c1 -> c2, k, stride 2), tanh, then a convolution over the remaining length to
    2 x latent (mean and log-variance); the decoder mirrors it with transposed convolutions and a
    linear output. The authors use c1 = 64, c2 = 128, k = 200, an 80-d latent."""

    def __init__(self, frame: int = 800, latent_dim: int = 80, *, channels: tuple[int, int] = (64, 128),
                 kernel: int = 200, likelihood: str = "laplace", beta: float = 0.1):
        super().__init__()
        self.frame = check_int("frame", frame, minimum=8)
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        c1, c2 = (check_int("channels", c, minimum=1) for c in channels)
        kernel = check_int("kernel", kernel, minimum=2)
        self.likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
        self.beta = check_float("beta", beta, minimum=0.0, strict_minimum=True)
        l1 = (frame - kernel) // 2 + 1
        l2 = (l1 - kernel) // 2 + 1
        if l2 < 1:
            raise ValueError(f"kernel={kernel} is too long for frames of {frame} samples")
        self.encoder = nn.Sequential(
            nn.Conv1d(1, c1, kernel, stride=2), nn.Tanh(),
            nn.Conv1d(c1, c2, kernel, stride=2), nn.Tanh(),
            nn.Conv1d(c2, 2 * latent_dim, l2), nn.Flatten(),
        )
        pad1 = l1 - ((l2 - 1) * 2 + kernel)
        pad0 = frame - ((l1 - 1) * 2 + kernel)
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1)),
            nn.ConvTranspose1d(latent_dim, c2, l2), nn.Tanh(),
            nn.ConvTranspose1d(c2, c1, kernel, stride=2, output_padding=pad1), nn.Tanh(),
            nn.ConvTranspose1d(c1, 1, kernel, stride=2, output_padding=pad0), nn.Flatten(),
        )

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.reshape(-1, 1, self.frame)).chunk(2, dim=-1)
        return mu, logvar.clamp(-15.0, 10.0)

    def decode_tensor(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(h)


# --------------------------------------------------------------------------------------------
# Measures of generated audio


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
