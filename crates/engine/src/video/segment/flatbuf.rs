//! Just enough of a FlatBuffers reader to walk a TFLite model: tables through their vtables,
//! scalars, strings and vectors. Every offset is bounds-checked; a corrupt file is an error,
//! never a panic.

use super::ModelError;

/// A table inside `buf` at `pos`.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn read<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], ModelError> {
    buf.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(ModelError::Corrupt("offset out of range"))
}

fn u32_at(buf: &[u8], at: usize) -> Result<u32, ModelError> {
    read::<4>(buf, at).map(u32::from_le_bytes)
}

/// A vector's element count and where its first element starts.
#[derive(Clone, Copy)]
pub struct Vector<'a> {
    buf: &'a [u8],
    start: usize,
    len: usize,
}

impl<'a> Vector<'a> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn bytes(&self, elem: usize) -> Result<&'a [u8], ModelError> {
        self.buf
            .get(self.start..self.start + self.len * elem)
            .ok_or(ModelError::Corrupt("vector out of range"))
    }

    pub fn i32s(&self) -> Result<Vec<i32>, ModelError> {
        Ok(self
            .bytes(4)?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// The `i`th element of a vector of tables.
    pub fn table(&self, i: usize) -> Result<Table<'a>, ModelError> {
        if i >= self.len {
            return Err(ModelError::Corrupt("table index out of range"));
        }
        let at = self.start + 4 * i;
        Table::at(self.buf, at + u32_at(self.buf, at)? as usize)
    }
}

impl<'a> Table<'a> {
    /// The root table of a buffer.
    pub fn root(buf: &'a [u8]) -> Result<Self, ModelError> {
        Self::at(buf, u32_at(buf, 0)? as usize)
    }

    fn at(buf: &'a [u8], pos: usize) -> Result<Self, ModelError> {
        u32_at(buf, pos)?;
        Ok(Self { buf, pos })
    }

    /// Where field `id` lives, if present.
    fn field(&self, id: usize) -> Result<Option<usize>, ModelError> {
        let soffset = i32::from_le_bytes(read::<4>(self.buf, self.pos)?);
        let vt = (self.pos as i64 - soffset as i64)
            .try_into()
            .map_err(|_| ModelError::Corrupt("vtable out of range"))?;
        let vt_len = u16::from_le_bytes(read::<2>(self.buf, vt)?) as usize;
        let slot = 4 + 2 * id;
        if slot + 2 > vt_len {
            return Ok(None);
        }
        let off = u16::from_le_bytes(read::<2>(self.buf, vt + slot)?) as usize;
        Ok((off != 0).then_some(self.pos + off))
    }

    pub fn u8(&self, id: usize, default: u8) -> Result<u8, ModelError> {
        match self.field(id)? {
            Some(at) => Ok(read::<1>(self.buf, at)?[0]),
            None => Ok(default),
        }
    }

    pub fn i32(&self, id: usize, default: i32) -> Result<i32, ModelError> {
        match self.field(id)? {
            Some(at) => Ok(i32::from_le_bytes(read::<4>(self.buf, at)?)),
            None => Ok(default),
        }
    }

    fn indirect(&self, id: usize) -> Result<Option<usize>, ModelError> {
        match self.field(id)? {
            Some(at) => Ok(Some(at + u32_at(self.buf, at)? as usize)),
            None => Ok(None),
        }
    }

    pub fn table(&self, id: usize) -> Result<Option<Table<'a>>, ModelError> {
        self.indirect(id)?
            .map(|at| Self::at(self.buf, at))
            .transpose()
    }

    pub fn vector(&self, id: usize) -> Result<Option<Vector<'a>>, ModelError> {
        let Some(at) = self.indirect(id)? else {
            return Ok(None);
        };
        let len = u32_at(self.buf, at)? as usize;
        Ok(Some(Vector {
            buf: self.buf,
            start: at + 4,
            len,
        }))
    }

    pub fn string(&self, id: usize) -> Result<Option<&'a str>, ModelError> {
        match self.vector(id)? {
            Some(v) => std::str::from_utf8(v.bytes(1)?)
                .map(Some)
                .map_err(|_| ModelError::Corrupt("string is not UTF-8")),
            None => Ok(None),
        }
    }
}
