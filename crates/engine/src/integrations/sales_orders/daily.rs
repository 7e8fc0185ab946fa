//! The daily re-fetch's word on why it started late (SPEC §3.4): it waited for a regular run of
//! the same store.

use tentacle_domain::messages;
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_store::{Integration, Run, RunFilter, Store, StoreError};

use super::TYPE;
use crate::log::RunLog;

/// The sales orders settings of `integration`, when it is a sales orders configuration whose
/// settings can be read.
fn settings_of(integration: &Integration) -> Option<SalesOrderSettings> {
    if integration.kind != TYPE {
        return None;
    }
    serde_json::from_value(integration.settings.clone()).ok()
}

/// Logs [`messages::daily_run_postponed`] on a daily run's first start when a regular run of the
/// same store ended after the daily run was due (the daily run waited for it).
pub(super) async fn log_postponement(
    store: &dyn Store,
    daily: &Integration,
    run: &Run,
    log: &RunLog,
) -> Result<(), StoreError> {
    let (Some(due), Some(settings)) = (run.due_at, settings_of(daily)) else {
        return Ok(());
    };
    if run.attempts > 1 {
        return Ok(());
    }
    let regulars = store.integrations().await?.into_iter().filter(|i| {
        i.id != daily.id
            && i.origin_credential_id == daily.origin_credential_id
            && settings_of(i).is_some_and(|s| !s.transfer_once_a_day)
    });
    for regular in regulars {
        let recent = store
            .runs(&RunFilter {
                integration_id: Some(regular.id),
                status: None,
                limit: Some(5),
                ..RunFilter::default()
            })
            .await?;
        if recent
            .iter()
            .any(|r| r.finished_at.is_some_and(|end| end >= due))
        {
            log.record(messages::daily_run_postponed(
                &regular.name,
                settings.time_difference_seconds,
            ));
            return Ok(());
        }
    }
    Ok(())
}
