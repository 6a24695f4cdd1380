//! `BuilderStore` on SQLite and PostgreSQL: image builders, their files and settings, and the
//! images made from them.

use super::*;

#[async_trait]
impl BuilderStore for SqlStore {
    async fn create_updated_image(
        &self,
        builder: &BuilderRecord,
        image: &ImageRecord,
        tags: &BTreeMap<String, String>,
        job: &JobRecord,
        (max_builders, max_images, max_updates): (i64, i64, i64),
    ) -> StoreResult<UpdateStart> {
        let mut tx = self.begin_write().await?;
        // The locks of builder and image creators of this account and region, in that order.
        self.lock(
            &mut tx,
            &format!("image-builders:{}:{}", builder.owner, builder.region),
        )
        .await?;
        self.lock(&mut tx, &format!("images:{}:{}", image.owner, image.region))
            .await?;
        let key = [image.region.as_str(), image.owner.as_str()];
        let builders = count_owned(&mut tx, ResourceKind::ImageBuilder, key[0], key[1]).await?;
        if builders >= max_builders {
            return Ok(UpdateStart::BuilderQuota(max_builders));
        }
        let images = count_owned(&mut tx, ResourceKind::Image, key[0], key[1]).await?;
        if images >= max_images {
            return Ok(UpdateStart::ImageQuota(max_images));
        }
        // An update under way is an image of this account in the new image's state.
        let updates = count(
            &mut *tx,
            "SELECT COUNT(*) AS n FROM images WHERE region = $1 AND owner = $2 AND state = $3",
            &[key[0], key[1], image.state.as_str()],
        )
        .await?;
        if updates >= max_updates {
            return Ok(UpdateStart::UpdateQuota(max_updates));
        }
        insert_image(&mut tx, image, false).await?;
        insert_builder(&mut tx, builder).await?;
        insert_tags(&mut tx, &image.arn, tags).await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(backend)?;
        Ok(UpdateStart::Started)
    }

    async fn image_builder(&self, key: Key<'_>) -> StoreResult<Option<BuilderRecord>> {
        one_builder(&self.read, [key.region, key.owner, key.name]).await
    }

    async fn list_image_builders(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, BuilderRecord)>> {
        list_page(
            &self.read,
            ("image_builders", BUILDER_COLS),
            (region, owner),
            after,
            limit,
            builder_from_row,
        )
        .await
    }

    async fn put_builder_file(
        &self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
        state: ImageBuilderState,
        file: &BuilderFile,
        now: Millis,
    ) -> StoreResult<Guarded<()>> {
        let mut tx = self.begin_write().await?;
        self.lock(
            &mut tx,
            &ResourceKind::ImageBuilder.arn(region, owner, name),
        )
        .await?;
        let Some(b) = one_builder(&mut *tx, [region, owner, name]).await? else {
            return Ok(Guarded::NotFound);
        };
        if b.state != state {
            return Ok(Guarded::WrongState(b.state));
        }
        sqlx::query(
            "INSERT INTO builder_files (region, owner, builder, path, digest, size, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (region, owner, builder, path) \
             DO UPDATE SET digest = excluded.digest, size = excluded.size, \
             updated_at = excluded.updated_at",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(&file.path)
        .bind(&file.digest)
        .bind(file.size)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Guarded::Done(()))
    }

    async fn set_builder_os_settings(
        &self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
        state: ImageBuilderState,
        windows_update: Option<bool>,
        defender: Option<bool>,
    ) -> StoreResult<Guarded<OsSettings>> {
        let mut tx = self.begin_write().await?;
        self.lock(
            &mut tx,
            &ResourceKind::ImageBuilder.arn(region, owner, name),
        )
        .await?;
        let Some(mut b) = one_builder(&mut *tx, [region, owner, name]).await? else {
            return Ok(Guarded::NotFound);
        };
        if b.state != state {
            return Ok(Guarded::WrongState(b.state));
        }
        let mut settings = b.attrs.os_settings.unwrap_or_default();
        if let Some(w) = windows_update {
            settings.windows_update = w;
        }
        if let Some(d) = defender {
            settings.defender = Some(d);
        }
        b.attrs.os_settings = Some(settings);
        write_builder_attrs(&mut tx, Key::new(region, owner, name), &b.attrs).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Guarded::Done(settings))
    }

    async fn set_builder_catalog(
        &self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
        state: ImageBuilderState,
        (expected_apps, expected_profile): (&[AppRecord], Option<&str>),
        applications: &[AppRecord],
        default_profile: Option<&str>,
    ) -> StoreResult<Guarded<()>> {
        let mut tx = self.begin_write().await?;
        self.lock(
            &mut tx,
            &ResourceKind::ImageBuilder.arn(region, owner, name),
        )
        .await?;
        let Some(mut b) = one_builder(&mut *tx, [region, owner, name]).await? else {
            return Ok(Guarded::NotFound);
        };
        if b.state != state {
            return Ok(Guarded::WrongState(b.state));
        }
        if b.attrs.applications != expected_apps
            || b.attrs.default_profile.as_deref() != expected_profile
        {
            return Ok(Guarded::Changed);
        }
        b.attrs.applications = applications.to_vec();
        b.attrs.default_profile = default_profile.map(str::to_owned);
        write_builder_attrs(&mut tx, Key::new(region, owner, name), &b.attrs).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Guarded::Done(()))
    }

    async fn builder_files(
        &self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
    ) -> StoreResult<Vec<BuilderFile>> {
        let rows = sqlx::query(
            "SELECT path, digest, size FROM builder_files \
             WHERE region = $1 AND owner = $2 AND builder = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(BuilderFile {
                    path: r.try_get("path").map_err(backend)?,
                    digest: r.try_get("digest").map_err(backend)?,
                    size: r.try_get("size").map_err(backend)?,
                })
            })
            .collect()
    }
}
