//! Which instruction-set paths this process may take: the one place that
//! decides, so every kernel dispatches the same way and `UOSEG_CPU` can force
//! the portable paths on any machine (to measure each path, and to test that
//! each gives the same answers).
//!
//! The crate is compiled for baseline x86-64 (SSE2) so that one wheel runs
//! everywhere; kernels that gain from newer instructions carry a
//! `#[target_feature]` twin and ask here whether to call it. `UOSEG_CPU`:
//!
//! - `native` (or unset): whatever the CPU has;
//! - `avx2`: nothing beyond AVX2, BMI1/2 and POPCNT, as on AMD before Zen 4 and
//!   Intel before Ice Lake;
//! - `scalar`: baseline code only, as any other target (aarch64) runs it.
//!
//! [`set_level`] changes the level at run time (`uoseg.set_cpu_paths`).
//!
//! uoseg uses no PDEP or PEXT (microcoded on AMD before Zen 3); BMI2 is used
//! for BZHI only, which is fast everywhere.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// A forced ceiling on the instruction sets used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Scalar,
    Avx2,
    Native,
}

impl Level {
    /// `UOSEG_CPU`'s value; anything unknown is `Native`, with the reason.
    pub fn parse(value: Option<&str>) -> (Level, Option<String>) {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => (Level::Native, None),
            Some(name) => match Level::from_name(name) {
                Some(level) => (level, None),
                None => (
                    Level::Native,
                    Some(format!(
                        "UOSEG_CPU={:?} is not one of native, avx2, scalar; using native",
                        name.to_ascii_lowercase()
                    )),
                ),
            },
        }
    }

    /// A level by name (any case; `auto` is `native`, `portable` is `scalar`).
    pub fn from_name(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "native" | "auto" => Some(Level::Native),
            "avx2" => Some(Level::Avx2),
            "scalar" | "portable" => Some(Level::Scalar),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Avx2 => "avx2",
            Level::Native => "native",
        }
    }
}

/// The features uoseg dispatches on, after the `UOSEG_CPU` ceiling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub popcnt: bool,
    pub bmi1: bool,
    pub bmi2: bool,
    pub avx2: bool,
    pub avx512_popcnt: bool,
    /// AVX-512 F, VL and DQ: 64-bit multiplies in vector lanes.
    pub avx512_dq: bool,
    /// AVX-512 F, BW and VBMI2: 16-bit lane compression.
    pub avx512_vbmi2: bool,
}

impl Features {
    /// What this CPU has.
    pub fn detected() -> Features {
        #[cfg(target_arch = "x86_64")]
        {
            Features {
                popcnt: std::is_x86_feature_detected!("popcnt"),
                bmi1: std::is_x86_feature_detected!("bmi1"),
                bmi2: std::is_x86_feature_detected!("bmi2"),
                avx2: std::is_x86_feature_detected!("avx2"),
                avx512_popcnt: std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vpopcntdq"),
                avx512_dq: std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("avx512dq"),
                avx512_vbmi2: std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512vbmi2"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Features::default()
    }

    /// These features, with nothing above `level`.
    pub fn capped(self, level: Level) -> Features {
        match level {
            Level::Native => self,
            Level::Avx2 => Features { avx512_popcnt: false, avx512_dq: false, avx512_vbmi2: false, ..self },
            Level::Scalar => Features::default(),
        }
    }

    /// Names of the features present, for reports.
    pub fn names(self) -> Vec<&'static str> {
        [
            (self.popcnt, "popcnt"),
            (self.bmi1, "bmi1"),
            (self.bmi2, "bmi2"),
            (self.avx2, "avx2"),
            (self.avx512_popcnt, "avx512vpopcntdq"),
            (self.avx512_dq, "avx512dq"),
            (self.avx512_vbmi2, "avx512vbmi2"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// What the environment asked for, read once.
struct Setting {
    level: Level,
    detected: Features,
    problem: Option<String>,
}

fn setting() -> &'static Setting {
    static SETTING: OnceLock<Setting> = OnceLock::new();
    SETTING.get_or_init(|| {
        let (level, problem) = Level::parse(std::env::var("UOSEG_CPU").ok().as_deref());
        Setting { level, detected: Features::detected(), problem }
    })
}

/// A level set at run time over `UOSEG_CPU`'s (0: none, else 1 + the level).
static FORCED: AtomicU8 = AtomicU8::new(0);

/// The level kernels run at: one set with [`set_level`], else `UOSEG_CPU`'s.
pub fn level() -> Level {
    match FORCED.load(Ordering::Relaxed) {
        1 => Level::Scalar,
        2 => Level::Avx2,
        3 => Level::Native,
        _ => setting().level,
    }
}

/// Sets the level of the whole process from now on (`None`: back to
/// `UOSEG_CPU`'s); returns the level before. Benchmarks time every path in
/// one process this way, with the baselines minutes rather than a whole run
/// apart.
///
/// Safe at any moment: a kernel that already chose a faster path finishes on
/// it (the CPU has those instructions), and every path gives the same answers.
pub fn set_level(level: Option<Level>) -> Level {
    let before = self::level();
    let code = match level {
        None => 0,
        Some(Level::Scalar) => 1,
        Some(Level::Avx2) => 2,
        Some(Level::Native) => 3,
    };
    FORCED.store(code, Ordering::Relaxed);
    before
}

/// Why `UOSEG_CPU` was not taken as it is, if it was not.
pub fn problem() -> Option<&'static str> {
    setting().problem.as_deref()
}

/// The features kernels may use now.
#[inline]
pub fn features() -> Features {
    setting().detected.capped(level())
}

#[inline]
pub fn popcnt() -> bool {
    features().popcnt
}

#[inline]
pub fn bmi() -> bool {
    let f = features();
    f.bmi1 && f.bmi2
}

#[inline]
pub fn avx2() -> bool {
    features().avx2
}

#[inline]
pub fn avx512_popcnt() -> bool {
    features().avx512_popcnt
}

#[inline]
pub fn avx512_dq() -> bool {
    features().avx512_dq
}

#[inline]
pub fn avx512_vbmi2() -> bool {
    features().avx512_vbmi2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_cap() {
        assert_eq!(Level::parse(None).0, Level::Native);
        assert_eq!(Level::parse(Some(" AVX2 ")).0, Level::Avx2);
        assert_eq!(Level::parse(Some("scalar")).0, Level::Scalar);
        let (level, problem) = Level::parse(Some("sse9"));
        assert_eq!(level, Level::Native);
        assert!(problem.is_some_and(|p| p.contains("sse9")));
        let all = Features {
            popcnt: true,
            bmi1: true,
            bmi2: true,
            avx2: true,
            avx512_popcnt: true,
            avx512_dq: true,
            avx512_vbmi2: true,
        };
        assert_eq!(all.capped(Level::Native), all);
        assert!(!all.capped(Level::Avx2).avx512_popcnt && all.capped(Level::Avx2).avx2);
        assert!(!all.capped(Level::Avx2).avx512_dq && !all.capped(Level::Avx2).avx512_vbmi2);
        assert_eq!(all.capped(Level::Scalar), Features::default());
        assert!(all.capped(Level::Scalar).names().is_empty());
        assert_eq!(Level::from_name("Portable"), Some(Level::Scalar));
        assert_eq!(Level::from_name("avx512"), None);
    }

    #[test]
    fn the_level_set_at_run_time_caps_the_features() {
        let before = set_level(Some(Level::Scalar));
        assert_eq!(level(), Level::Scalar);
        assert_eq!(features(), Features::default());
        assert_eq!(set_level(Some(Level::Avx2)), Level::Scalar);
        assert!(!features().avx512_dq && !features().avx512_popcnt && !features().avx512_vbmi2);
        assert_eq!(features().avx2, Features::detected().avx2);
        set_level(None);
        assert_eq!(level(), setting().level);
        // Other tests run meanwhile: leave the process as it was.
        if before != setting().level {
            set_level(Some(before));
        }
    }
}
