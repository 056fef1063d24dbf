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
//! uoseg uses no PDEP or PEXT (microcoded on AMD before Zen 3); BMI2 is used
//! for BZHI only, which is fast everywhere.

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
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("native") | Some("auto") => (Level::Native, None),
            Some("avx2") => (Level::Avx2, None),
            Some("scalar") | Some("portable") => (Level::Scalar, None),
            Some(other) => {
                (Level::Native, Some(format!("UOSEG_CPU={other:?} is not one of native, avx2, scalar; using native")))
            }
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

struct Setting {
    level: Level,
    features: Features,
    problem: Option<String>,
}

fn setting() -> &'static Setting {
    static SETTING: OnceLock<Setting> = OnceLock::new();
    SETTING.get_or_init(|| {
        let (level, problem) = Level::parse(std::env::var("UOSEG_CPU").ok().as_deref());
        Setting { level, features: Features::detected().capped(level), problem }
    })
}

/// The `UOSEG_CPU` level of this process (read once).
pub fn level() -> Level {
    setting().level
}

/// Why `UOSEG_CPU` was not taken as it is, if it was not.
pub fn problem() -> Option<&'static str> {
    setting().problem.as_deref()
}

/// The features kernels may use in this process.
pub fn features() -> Features {
    setting().features
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
    }
}
