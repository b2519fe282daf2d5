"""Measures of generated audio, from maintained libraries.

* Pitch: librosa's probabilistic YIN (``librosa.pyin``; Mauch & Dixon 2014) tracks the fundamental
  frequency and decides which frames are voiced. From its track: the voiced fraction, the fraction
  of voiced frames in tune with an equal-tempered note, and the note-change rate (how often the
  nearest note changes between consecutive voiced frames, per second of voiced audio; real clarinet
  phrases change note about once a second).
* Spectra: the average power spectrum by Welch's method (``scipy.signal.welch``), in dB, and the
  RMS distance between two of them with each level removed (a timbre summary).
* Frame by frame: librosa's spectral flatness (Wiener entropy: the geometric over the arithmetic mean
  of a frame's power spectrum), near 0 for a frame of harmonic tones and near 0.5 for white noise.
  A distance between time-averaged spectra cannot tell a sequence of clean notes from a noise with
  the same average spectrum; the flatness of each frame can (``tests/test_audio_measures.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import welch

from twostep.data.audio import A4

# The pitch tracker's settings, shared by every measure below (128 ms frames every 64 ms at 8 kHz).
PITCH_FRAME = 1024
PITCH_HOP = 512
# G2 (98 Hz) to B5 (988 Hz): the clarinet's range (D3 = 147 Hz) with room on both sides. With fmin on
# a note, pYIN's pitch bins (a tenth of a semitone) fall on equal-tempered notes.
FMIN, FMAX = A4 * 2 ** (-26 / 12), A4 * 2 ** (14 / 12)
# pYIN's limit on pitch jumps (octaves per second): an octave between two frames 64 ms apart is 15.6;
# librosa's default (36) lets white noise pass for voiced in a quarter of its frames, 20 in none.
MAX_TRANSITION_RATE = 20.0
# The signal is resampled (soxr) to this many times its rate before tracking: at 8 kHz a note at
# 880 Hz lasts 9 samples and YIN's interpolated period is 10 cents sharp; at 16 kHz under 3 cents.
UPSAMPLE = 2
SPECTRUM_FLOOR = 1e-12  # 120 dB below the peak
FLATNESS_FRAME = 512  # 64 ms at 8 kHz, every 32 ms: the frames of the chapter's spectrograms
FLATNESS_HOP = 256
SILENT_DB = 60.0  # frames this far below a piece's loudest frame are silence, whose flatness means nothing
IN_TUNE_CENTS = 25.0  # every frequency is within 50 cents of some note: 25 cents is "in tune"


def pitch_track(audio: np.ndarray, sample_rate: int = 8000, *, frame: int = PITCH_FRAME, hop: int = PITCH_HOP,
                fmin: float = FMIN, fmax: float = FMAX) -> tuple[np.ndarray, np.ndarray]:
    """librosa's pYIN on ``audio``: the fundamental of every frame of ``frame`` samples every
    ``hop`` (Hz, NaN where unvoiced) and the voiced flags. Frames are not centred; the signal is
    upsampled by ``UPSAMPLE`` first (frame and hop scaled with it, so the frames are the same)."""
    import librosa

    audio = np.asarray(audio, dtype=np.float64)
    if len(audio) < frame:
        return np.zeros(0), np.zeros(0, dtype=bool)
    rate = sample_rate * UPSAMPLE
    audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=rate, res_type="soxr_hq")
    f0, voiced, _ = librosa.pyin(audio, fmin=fmin, fmax=fmax, sr=rate, frame_length=frame * UPSAMPLE,
                                 hop_length=hop * UPSAMPLE, center=False, max_transition_rate=MAX_TRANSITION_RATE)
    return f0, voiced.astype(bool)


def cents_from_a4(f0: np.ndarray) -> np.ndarray:
    """Frequencies in cents above A4 = 440 Hz (the MIDI note of ``f`` is 69 + cents / 100)."""
    return 1200 * np.log2(np.asarray(f0, dtype=np.float64) / A4)


def pitch_report(audio: np.ndarray | Sequence[np.ndarray], sample_rate: int = 8000, *, frame: int = PITCH_FRAME,
                 hop: int = PITCH_HOP, fmin: float = FMIN, fmax: float = FMAX,
                 tolerance_cents: float = IN_TUNE_CENTS) -> dict[str, float]:
    """Pitch measures of a waveform, or of several pieces (a list of waveforms: recordings, or
    independently generated segments), from their pYIN tracks: ``voiced_fraction`` (frames pYIN
    calls voiced), ``in_tune_fraction`` (voiced frames within ``tolerance_cents`` of an
    equal-tempered note), ``mean_abs_cents`` (their mean distance to the nearest note) and
    ``note_change_rate`` (changes of the nearest note between consecutive voiced frames, per second
    of voiced audio) and ``median_note_seconds`` (the median length of a run of voiced frames on one
    note). Each piece is tracked on its own: no change is counted across the end of a piece."""
    pieces = [audio] if isinstance(audio, np.ndarray) and audio.ndim == 1 else list(audio)
    tracks = [pitch_track(piece, sample_rate, frame=frame, hop=hop, fmin=fmin, fmax=fmax) for piece in pieces]
    voiced_all = np.concatenate([voiced for _, voiced in tracks])
    if not voiced_all.any():
        return {"voiced_fraction": 0.0, "in_tune_fraction": 0.0, "mean_abs_cents": float("nan"),
                "note_change_rate": 0.0, "median_note_seconds": 0.0}
    cents = cents_from_a4(np.concatenate([f0[voiced] for f0, voiced in tracks]))
    deviation = np.abs(cents - 100 * np.round(cents / 100))
    changes, pairs, note_frames = 0, 0, []
    for f0, voiced in tracks:
        notes = np.round(cents_from_a4(np.where(voiced, f0, A4)) / 100)
        both_voiced = voiced[1:] & voiced[:-1]
        changes += int(np.sum(both_voiced & (notes[1:] != notes[:-1])))
        pairs += int(both_voiced.sum())
        # A note starts at a voiced frame that does not continue the previous frame's note; it lasts
        # until the next start, less the unvoiced frames in between.
        starts = np.flatnonzero(voiced & ~np.concatenate([[False], both_voiced & (notes[1:] == notes[:-1])]))
        bounds = np.append(starts, len(voiced))
        note_frames += [int(voiced[a:b].sum()) for a, b in zip(bounds[:-1], bounds[1:])]
    voiced_seconds = max(pairs, 1) * hop / sample_rate
    return {"voiced_fraction": float(voiced_all.mean()),
            "in_tune_fraction": float(np.mean(deviation <= tolerance_cents)),
            "mean_abs_cents": float(deviation.mean()),
            "note_change_rate": changes / voiced_seconds,
            "median_note_seconds": float(np.median(note_frames)) * hop / sample_rate}


def average_log_spectrum(audio: np.ndarray, frame: int = 512, hop: int = 256) -> np.ndarray:
    """Welch's average of Hann-windowed power spectra (``frame`` samples every ``hop``), in dB,
    floored ``SPECTRUM_FLOOR`` below its peak (silence would otherwise be minus infinity)."""
    _, power = welch(np.asarray(audio, dtype=np.float64), window="hann", nperseg=frame, noverlap=frame - hop,
                     detrend=False, scaling="spectrum")
    return 10 * np.log10(power + SPECTRUM_FLOOR * power.max())


def log_spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Root-mean-square difference (dB) between the average log spectra of two waveforms, after
    removing each spectrum's mean level (so loudness does not count, timbre does)."""
    sa, sb = average_log_spectrum(a), average_log_spectrum(b)
    sa, sb = sa - sa.mean(), sb - sb.mean()
    return float(np.sqrt(np.mean((sa - sb) ** 2)))


def spectral_flatness(audio: np.ndarray | Sequence[np.ndarray], *, frame: int = FLATNESS_FRAME,
                      hop: int = FLATNESS_HOP) -> float:
    """The median, over the frames of a waveform (or of several pieces) that are not silent (within
    ``SILENT_DB`` of the piece's loudest frame), of librosa's spectral flatness of each frame of
    ``frame`` samples every ``hop``: near 0 where a frame holds harmonic tones, near 0.5 for white noise."""
    import librosa

    pieces = [audio] if isinstance(audio, np.ndarray) and audio.ndim == 1 else list(audio)
    values = []
    for piece in pieces:
        piece = np.asarray(piece, dtype=np.float64)
        if len(piece) < frame:
            continue
        power = np.abs(librosa.stft(piece, n_fft=frame, hop_length=hop, center=False)) ** 2
        energy = power.sum(axis=0)
        loud = energy >= energy.max() * 10 ** (-SILENT_DB / 10) if energy.max() > 0 else np.zeros_like(energy, bool)
        values.append(librosa.feature.spectral_flatness(S=power[:, loud], power=1.0)[0])
    values = np.concatenate(values) if values else np.zeros(0)
    return float(np.median(values)) if len(values) else float("nan")
