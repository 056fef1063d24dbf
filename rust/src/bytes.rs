//! Bounds-checked reading of the little-endian byte layouts uoseg writes (the
//! store file, id dictionaries, pickled audiences). Every read that would run
//! past the end is a `StoreFormat` error naming what was being read, never a
//! panic.

use crate::error::{Error, Result};

/// Bounds-checked reading of a byte slice: every read that would run past the
/// end is a `StoreFormatError` naming what was being read.
pub struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
    what: &'a str,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], what: &'a str) -> Self {
        Reader { bytes, position: 0, what }
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.position.checked_add(len).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
            Error::format(format!("{}: truncated (needed {len} more bytes at offset {})", self.what, self.position))
        })?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn len_u64(&mut self) -> Result<usize> {
        usize::try_from(self.u64()?).map_err(|_| Error::format(format!("{}: length out of range", self.what)))
    }

    pub fn string(&mut self) -> Result<String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::format(format!("{}: a name is not valid UTF-8", self.what)))
    }

    /// A u64 count of items of `unit` bytes each, which must fit in what is left.
    pub fn count(&mut self, unit: usize) -> Result<usize> {
        let n = self.u64()?;
        if n.checked_mul(unit as u64).is_none_or(|bytes| bytes > self.remaining() as u64) {
            return Err(Error::format(format!("{}: a length field exceeds the input", self.what)));
        }
        Ok(n as usize)
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.position
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub fn finish(&self) -> Result<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(Error::format(format!("{}: {} unexpected trailing bytes", self.what, self.remaining())))
        }
    }
}
