//! Every path of the JSON API, written once: each handler's `#[utoipa::path]` (so the OpenAPI
//! document), the router and the feed's fast lane read them from here.

pub const HEALTH_CHECK: &str = "/api/health-check";
pub const HOME: &str = "/api/activities/home";
pub const ACTIVITIES: &str = "/api/activities";
pub const USER_PAGE: &str = "/api/activities/@{handle}";
pub const STATUS: &str = "/api/activities/@{handle}/status/{uuid}";
pub const REPLY: &str = "/api/activities/{uuid}/reply";
pub const USER_SHORT: &str = "/api/users/@{handle}/short";
pub const PROFILE_UPDATE: &str = "/api/profile/update";
pub const OPENAPI: &str = "/api/openapi.json";
