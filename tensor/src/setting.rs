//! Checks of the environment variables that tune the kernels (and the
//! interpreter's), made when `dp` starts: each is read where it is first
//! needed, so a typo would otherwise be silently taken as the default.

/// Checks the setting `name`, if it is set: `Err` names the variable, the
/// value and what is accepted (`what`, e.g. "is not a thread count (write a
/// positive integer)") unless `accepts` takes the trimmed value.
pub fn check_setting(name: &str, accepts: impl Fn(&str) -> bool, what: &str) -> Result<(), String> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(()),
        Ok(v) if accepts(v.trim()) => Ok(()),
        Ok(v) => Err(format!("{name}={v:?} {what}")),
        Err(std::env::VarError::NotUnicode(v)) => Err(format!("{name}={v:?} {what}")),
    }
}
