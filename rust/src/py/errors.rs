//! Core errors become the exception classes of `uoseg.errors`, each of which
//! also subclasses the matching built-in (KeyError, TypeError, ValueError...).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

use crate::Error;

/// `uoseg.errors`, imported once (not on every raise).
fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE.get_or_try_init(py, || Ok::<_, PyErr>(py.import("uoseg.errors")?.unbind())).map(|m| m.bind(py))
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let module = errors_module(py)?;
    let kwargs = PyDict::new(py);
    let class = match err {
        Error::UnknownName { kind, name, suggestions, .. } => {
            kwargs.set_item("kind", kind)?;
            kwargs.set_item("name", name)?;
            kwargs.set_item("suggestions", suggestions.clone())?;
            "UnknownNameError"
        }
        Error::Type(_) => "ColumnTypeError",
        Error::InvalidInput(_) => "InvalidInputError",
        Error::StoreFormat(_) => "StoreFormatError",
        Error::Io { kind, message, path } => {
            // OSError(errno, strerror, filename) sets .errno, .strerror and .filename.
            let errno = match kind {
                std::io::ErrorKind::NotFound => libc::ENOENT,
                std::io::ErrorKind::PermissionDenied => libc::EACCES,
                std::io::ErrorKind::AlreadyExists => libc::EEXIST,
                _ => libc::EIO,
            };
            let class = if *kind == std::io::ErrorKind::NotFound { "MissingFileError" } else { "FileError" };
            let instance = module.getattr(class)?.call1((errno, message.clone(), path.clone()))?;
            return Ok(PyErr::from_value(instance));
        }
        Error::Syntax(syntax) => {
            kwargs.set_item("position", syntax.offset)?;
            kwargs.set_item("line", syntax.line)?;
            kwargs.set_item("column", syntax.column)?;
            kwargs.set_item("expected", syntax.expected.clone())?;
            kwargs.set_item("found", syntax.found.clone())?;
            kwargs.set_item("text", syntax.text.clone())?;
            "QuerySyntaxError"
        }
        Error::DuplicateEdges { edges, .. } => {
            kwargs.set_item("edges", edges.clone())?;
            "DuplicateEdgesError"
        }
        Error::Internal(_) => "InternalError",
    };
    let instance = module.getattr(class)?.call((err.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        Python::attach(|py| build(py, &err).unwrap_or_else(|_| PyRuntimeError::new_err(err.to_string())))
    }
}
