//! Aggregates over an audience: compensated float sums and code histograms.

/// Neumaier-compensated f64 sum that keeps infinities out of the compensation term.
#[derive(Default)]
pub(super) struct FloatSum {
    pub(super) s: f64,
    pub(super) c: f64,
    pub(super) pos_inf: bool,
    pub(super) neg_inf: bool,
}

impl FloatSum {
    pub(super) fn add(&mut self, x: f64) {
        if x.is_infinite() {
            if x > 0.0 {
                self.pos_inf = true;
            } else {
                self.neg_inf = true;
            }
            return;
        }
        let t = self.s + x;
        if self.s.abs() >= x.abs() {
            self.c += (self.s - t) + x;
        } else {
            self.c += (x - t) + self.s;
        }
        self.s = t;
    }

    /// Adds n * x with the product's rounding error (via fma) compensated too.
    pub(super) fn add_times(&mut self, x: f64, n: u64) {
        if x.is_infinite() {
            self.add(x);
            return;
        }
        let nf = n as f64;
        let p = nf * x;
        if !p.is_finite() {
            self.add(p);
            return;
        }
        self.add(p);
        self.add(nf.mul_add(x, -p));
    }

    pub(super) fn value(&self) -> f64 {
        match (self.pos_inf, self.neg_inf) {
            (true, true) => f64::NAN,
            (true, false) => f64::INFINITY,
            (false, true) => f64::NEG_INFINITY,
            _ if !self.s.is_finite() => self.s,
            _ => self.s + self.c,
        }
    }
}

/// Histograms are used for stats when the distinct count is at most this.
pub(super) const HISTOGRAM_MAX: usize = 1 << 16;
