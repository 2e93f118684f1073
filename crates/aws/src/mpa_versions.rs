//! The MPA's versions on the `Marketplace` table: one item (`MPA` / `VERSIONS`) holding every
//! version in publication order (`marketplace_core::agreement`), and the agreement's own audit
//! trail under `MPA` / `AUDIT#…`.

use marketplace_core::agreement::MpaVersions;
use marketplace_core::provider::Provider;
use marketplace_core::DomainError;
use marketplace_portal::ports::{AuditEntry, Precondition, WriteError};
use marketplace_portal::product::Product;

use crate::attributes::{from_item, n};
use crate::provider_store::{product_sk, provider_pk, typed_item, DynamoProviderStore, PROFILE};

/// The partition of the agreement's items.
pub const MPA_PK: &str = "MPA";
pub const VERSIONS_SK: &str = "VERSIONS";

impl DynamoProviderStore {
    /// The stored versions, or `None` while only the configuration's first version exists.
    pub(crate) async fn read_mpa_versions(&self) -> Result<Option<MpaVersions>, DomainError> {
        self.get_item(MPA_PK.into(), VERSIONS_SK.into()).await?.map(|item| from_item(&item)).transpose()
    }

    /// The provider and the stored versions, in one round trip.
    pub(crate) async fn read_provider_and_mpa_versions(
        &self,
        provider_id: &str,
    ) -> Result<(Option<Provider>, Option<MpaVersions>), DomainError> {
        let keys = [(provider_pk(provider_id), PROFILE.to_string()), (MPA_PK.to_string(), VERSIONS_SK.to_string())];
        let mut items = self.get_items(&keys).await?.into_iter();
        let provider = items.next().flatten().map(|item| from_item(&item)).transpose()?;
        let versions = items.next().flatten().map(|item| from_item(&item)).transpose()?;
        Ok((provider, versions))
    }

    /// The provider, one of its products and the stored versions, in one round trip.
    pub(crate) async fn read_provider_product_and_mpa_versions(
        &self,
        provider_id: &str,
        product_id: &str,
    ) -> Result<(Option<Provider>, Option<Product>, Option<MpaVersions>), DomainError> {
        let keys = [
            (provider_pk(provider_id), PROFILE.to_string()),
            (provider_pk(provider_id), product_sk(product_id)),
            (MPA_PK.to_string(), VERSIONS_SK.to_string()),
        ];
        let mut items = self.get_items(&keys).await?.into_iter();
        let provider = items.next().flatten().map(|item| from_item(&item)).transpose()?;
        let product = items.next().flatten().map(|item| from_item(&item)).transpose()?;
        let versions = items.next().flatten().map(|item| from_item(&item)).transpose()?;
        Ok((provider, product, versions))
    }

    /// Writes the versions (guarded by their revision) and the audit entry of the change in one
    /// transaction.
    pub(crate) async fn write_mpa_versions(
        &self,
        versions: &MpaVersions,
        precondition: Precondition,
        audit: &AuditEntry,
    ) -> Result<(), WriteError> {
        let mut item = typed_item(versions, "mpa_versions")?;
        // The attribute the conditional put compares.
        item.insert("version".into(), n(versions.revision));
        let put = self.conditional_put(item, MPA_PK.into(), VERSIONS_SK.into(), precondition)?;
        self.transact(vec![put, self.audit_put_under(MPA_PK.into(), audit)?]).await
    }
}
