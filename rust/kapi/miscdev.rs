// SPDX-License-Identifier: GPL-2.0

//! A misc device registration that pins the module while a file is open.

use core::marker::PhantomData;
use kernel::{
    bindings,
    error::to_result,
    miscdevice::{MiscDevice, MiscDeviceOptions},
    prelude::*,
    types::Opaque,
};

/// A registered misc device whose open files pin this module.
///
/// The kernel crate's `MiscDeviceRegistration` registers file operations
/// without an owner: `rmmod` then succeeds while a file of the device is
/// open, or while a checkpoint job that holds one is pending, and the next
/// call through that file runs freed module text. This registration copies
/// the crate's file operations for `T` and names the module as their owner,
/// so that `misc_open()` (through `fops_get()`) takes a module reference for
/// every open file and the last `fput()` drops it.
///
/// # Invariants
///
/// - `misc` is registered with `misc_register()` for the whole life of
///   `self` (which is pinned) and deregistered exactly once, in [`Drop`].
/// - `misc.fops` points at `fops`: the kernel crate's file operations for
///   `T` with `owner` set to this module.
/// - `misc_open()` hands the crate's callbacks a pointer to `misc`, which
///   they read as a `MiscDeviceRegistration<T>`: that type is
///   `repr(transparent)` over the same `Opaque<bindings::miscdevice>`.
#[pin_data(PinnedDrop)]
pub(crate) struct OwnedMiscDevice<T> {
    #[pin]
    fops: Opaque<bindings::file_operations>,
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: `misc_deregister()` may be called from any thread, and `&self`
// gives access to nothing.
unsafe impl<T> Send for OwnedMiscDevice<T> {}
// SAFETY: There are no `&self` methods.
unsafe impl<T> Sync for OwnedMiscDevice<T> {}

impl<T: MiscDevice> OwnedMiscDevice<T> {
    /// Registers the misc device `name` for `T`, owned by `module`.
    pub(crate) fn register(
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            fops <- Opaque::ffi_init(move |slot: *mut bindings::file_operations| {
                let raw = MiscDeviceOptions { name }.into_raw::<T>();
                // SAFETY: `raw.fops` points at the kernel crate's static file
                // operations for `T`, and `slot` is valid for writes.
                unsafe {
                    slot.write(core::ptr::read(raw.fops));
                    (*slot).owner = module.as_ptr();
                }
            }),
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut raw = MiscDeviceOptions { name }.into_raw::<T>();
                // Fields are initialised in order: `fops` is ready, and it is
                // pinned with `self`, which outlives the registration.
                // SAFETY: `this` points at the `Self` being initialised; only
                // a raw pointer to the field is taken.
                raw.fops = Opaque::cast_into(unsafe { &raw const (*this.as_ptr()).fops });
                // SAFETY: `slot` is valid for writes.
                unsafe { slot.write(raw) };
                // SAFETY: `slot` holds a complete `miscdevice`, pinned until
                // `drop` deregisters it (type invariants).
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for OwnedMiscDevice<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `misc` is registered (type invariants), and this is the
        // only place that deregisters it.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}
