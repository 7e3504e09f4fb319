//! [`Current`]: a value that a reload replaces as a whole while readers keep the one they took.

use std::sync::{Arc, PoisonError, RwLock};

/// The value in force now. Readers take an `Arc` of it ([`Current::get`]) and keep using that
/// one to the end of their work; [`Current::replace`] puts a new value in for the next reader.
/// So a request sees one consistent set of profiles (or trust, or TLS configuration) even when
/// a reload happens while it runs, and a reload never waits for requests to finish.
#[derive(Debug)]
pub struct Current<T: ?Sized> {
    value: RwLock<Arc<T>>,
}

impl<T> Current<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Self {
        Self::from_arc(Arc::new(value))
    }
}

impl<T: ?Sized> Current<T> {
    /// A cell holding `value`, already shared.
    pub fn from_arc(value: Arc<T>) -> Self {
        Self {
            value: RwLock::new(value),
        }
    }

    /// The value in force now.
    pub fn get(&self) -> Arc<T> {
        // The lock is held only to clone or swap an `Arc`, which cannot panic halfway, so a
        // poisoned lock still guards a whole value.
        Arc::clone(&self.value.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `value` in force and returns the value it replaces.
    pub fn replace(&self, value: Arc<T>) -> Arc<T> {
        let mut slot = self.value.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_keeps_the_value_it_took_and_the_next_one_sees_the_new() {
        let cell = Current::new(String::from("old"));
        let taken = cell.get();
        let replaced = cell.replace(Arc::new(String::from("new")));
        assert_eq!(*taken, "old");
        assert_eq!(*replaced, "old");
        assert_eq!(*cell.get(), "new");
    }
}
