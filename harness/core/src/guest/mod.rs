//! The guest's side of a VM run: the static guest binary is /init of an
//! initramfs the host writes ([`pid1`]), reads the host's [`protocol::Plan`]
//! and answers with [`protocol::Event`]s through shared memory ([`shm`])
//! or ttyS1.

pub mod pid1;
pub mod protocol;
pub mod shm;
