//! Exposes PyO3's interpreter cfgs (`Py_GIL_DISABLED`, `Py_3_*`) to this crate, so the
//! per-line fast paths can tell a free-threaded CPython from one with a GIL.

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
