//! GitLab's routes as values: each knows its method, its path template, which token GitLab
//! accepts on it and whether it writes, so no call site pairs them by hand
//! (`docs/gitlab-behaviour.md` §3.2 says which route takes which token, and since when).

/// Which token a route accepts. GitLab honours `CI_JOB_TOKEN` only on routes that declare
/// `job_token_allowed`; on every other route the job token is silently ignored and the request
/// is anonymous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRule {
    /// `GET /job`, `GET /job/allowed_agents`: the job token names the job, so only it will do.
    JobToken,
    /// The list routes: an access token when there is one, else the job token (pipeline job lists
    /// from GitLab 18.0, bridges from 19.0).
    AccessOrJob,
    /// Single job, trace, play, cancel, retry, erase: GitLab never takes a job token there.
    Access,
    /// Job artifacts: the job token when there is one (GitLab has taken it there for long, in the
    /// same project and in another whose job token allowlist takes this one), else an access token.
    JobOrAccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A route of GitLab's API v4.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// As GitLab's docs write it: `/projects/:id/jobs/:job_id/play`.
    pub template: &'static str,
    pub token: TokenRule,
    /// What the write does, in a word (`play`); `None` for reads.
    pub action: Option<&'static str>,
    /// A download: GitLab may answer it with a redirect to object storage on another host, which
    /// is followed once, without any token (`docs/gitlab-behaviour.md` §11). No other route
    /// follows a redirect.
    pub download: bool,
}

impl Route {
    /// Whether the route changes something: such a request is never sent twice.
    pub fn writes(&self) -> bool {
        self.method == Method::Post
    }

    /// The scope an access token needs here.
    pub fn scope(&self) -> &'static str {
        match self.method {
            Method::Get => "read_api",
            Method::Post => "api",
        }
    }

    /// The route with its placeholders filled: `:id` with the project (one encoded segment),
    /// `:pipeline_id` and `:job_id` with numbers.
    pub fn at(&'static self, project: &str, id: u64) -> Call {
        let path = self
            .template
            .replace(":id", project)
            .replace(":pipeline_id", &id.to_string())
            .replace(":job_id", &id.to_string());
        Call { route: self, path }
    }

    /// A route with its placeholders filled by name (`:job_id`, `:ref_name`, `*artifact_path`),
    /// the values already encoded for a path.
    pub fn with(&'static self, project: &str, values: &[(&str, &str)]) -> Call {
        let mut path = self.template.replace(":id", project);
        for (name, value) in values {
            path = path.replace(name, value);
        }
        Call { route: self, path }
    }

    /// A route without placeholders (`/job`) or with only the project's.
    pub fn of_project(&'static self, project: &str) -> Call {
        Call {
            route: self,
            path: self.template.replace(":id", project),
        }
    }
}

/// A route with its path filled in, ready to send.
#[derive(Debug, Clone)]
pub struct Call {
    pub route: &'static Route,
    pub path: String,
}

impl Call {
    /// `GET /projects/42/jobs/7`, for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.route.method.as_str(), self.path)
    }
}

/// `GET /job`: the job the job token belongs to.
pub static OWN_JOB: Route = read("/job", TokenRule::JobToken);
/// `GET /job/allowed_agents`.
pub static ALLOWED_AGENTS: Route = read("/job/allowed_agents", TokenRule::JobToken);
/// `GET /projects/:id/jobs`: every job of the project.
pub static PROJECT_JOBS: Route = read("/projects/:id/jobs", TokenRule::AccessOrJob);
/// `GET /projects/:id/pipelines/:pipeline_id/jobs`: the latest attempt of each build.
pub static PIPELINE_JOBS: Route = read(
    "/projects/:id/pipelines/:pipeline_id/jobs",
    TokenRule::AccessOrJob,
);
/// `GET /projects/:id/pipelines/:pipeline_id/bridges`: the trigger jobs.
pub static PIPELINE_BRIDGES: Route = read(
    "/projects/:id/pipelines/:pipeline_id/bridges",
    TokenRule::AccessOrJob,
);
/// `GET /projects/:id/pipelines/:pipeline_id/trigger_jobs`: the trigger jobs, GitLab 19.2+ (which
/// deprecates `/bridges`; `docs/gitlab-behaviour.md` §10.1).
pub static PIPELINE_TRIGGER_JOBS: Route = read(
    "/projects/:id/pipelines/:pipeline_id/trigger_jobs",
    TokenRule::AccessOrJob,
);
/// `GET /version`: asked only before sending job inputs, which GitLab drops silently before 18.10.
pub static VERSION: Route = read("/version", TokenRule::Access);
/// `GET /projects/:id/jobs/:job_id`.
pub static JOB: Route = read("/projects/:id/jobs/:job_id", TokenRule::Access);
/// `GET /projects/:id/jobs/:job_id/trace`: the log, never with a job token
/// (gitlab-org/gitlab#467492).
pub static TRACE: Route = read("/projects/:id/jobs/:job_id/trace", TokenRule::Access);
pub static PLAY: Route = write("/projects/:id/jobs/:job_id/play", "play");
pub static CANCEL: Route = write("/projects/:id/jobs/:job_id/cancel", "cancel");
pub static RETRY: Route = write("/projects/:id/jobs/:job_id/retry", "retry");
pub static ERASE: Route = write("/projects/:id/jobs/:job_id/erase", "erase");

/// `GET /projects/:id/jobs/:job_id/artifacts`: a job's artifacts archive (a zip).
pub static ARTIFACTS: Route = download(
    "/projects/:id/jobs/:job_id/artifacts",
    TokenRule::JobOrAccess,
);
/// `GET /projects/:id/jobs/:job_id/artifacts/*artifact_path`: one file of it.
pub static ARTIFACT_FILE: Route = download(
    "/projects/:id/jobs/:job_id/artifacts/*artifact_path",
    TokenRule::JobOrAccess,
);
/// `GET /projects/:id/jobs/artifacts/:ref_name/download?job=NAME`: the archive of the job called
/// NAME in the latest successful pipeline of a branch or tag.
pub static REF_ARTIFACTS: Route = download(
    "/projects/:id/jobs/artifacts/:ref_name/download",
    TokenRule::JobOrAccess,
);
/// `GET /projects/:id/jobs/artifacts/:ref_name/raw/*artifact_path?job=NAME`: one file of it.
pub static REF_ARTIFACT_FILE: Route = download(
    "/projects/:id/jobs/artifacts/:ref_name/raw/*artifact_path",
    TokenRule::JobOrAccess,
);
/// The same four with an access token, for when GitLab refused the job token (another project's
/// allowlist does not take this one) and `GITLAB_TOKEN` is set.
pub static ARTIFACTS_BY_ACCESS: Route =
    download("/projects/:id/jobs/:job_id/artifacts", TokenRule::Access);
pub static ARTIFACT_FILE_BY_ACCESS: Route = download(
    "/projects/:id/jobs/:job_id/artifacts/*artifact_path",
    TokenRule::Access,
);
pub static REF_ARTIFACTS_BY_ACCESS: Route = download(
    "/projects/:id/jobs/artifacts/:ref_name/download",
    TokenRule::Access,
);
pub static REF_ARTIFACT_FILE_BY_ACCESS: Route = download(
    "/projects/:id/jobs/artifacts/:ref_name/raw/*artifact_path",
    TokenRule::Access,
);

impl Route {
    /// This download route with an access token instead of the job token.
    pub fn by_access(&'static self) -> &'static Route {
        [
            (&ARTIFACTS, &ARTIFACTS_BY_ACCESS),
            (&ARTIFACT_FILE, &ARTIFACT_FILE_BY_ACCESS),
            (&REF_ARTIFACTS, &REF_ARTIFACTS_BY_ACCESS),
            (&REF_ARTIFACT_FILE, &REF_ARTIFACT_FILE_BY_ACCESS),
        ]
        .into_iter()
        .find(|(by_job, _)| std::ptr::eq(*by_job, self))
        .map_or(self, |(_, by_access)| by_access)
    }
}

const fn read(template: &'static str, token: TokenRule) -> Route {
    Route {
        method: Method::Get,
        template,
        token,
        action: None,
        download: false,
    }
}

const fn write(template: &'static str, action: &'static str) -> Route {
    Route {
        method: Method::Post,
        template,
        token: TokenRule::Access,
        action: Some(action),
        download: false,
    }
}

const fn download(template: &'static str, token: TokenRule) -> Route {
    Route {
        method: Method::Get,
        template,
        token,
        action: None,
        download: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fill_their_placeholders() {
        assert_eq!(PLAY.at("42", 7).path, "/projects/42/jobs/7/play");
        assert_eq!(
            PIPELINE_JOBS.at("group%2Fapp", 9).path,
            "/projects/group%2Fapp/pipelines/9/jobs"
        );
        assert!(PLAY.writes() && !JOB.writes());
        assert_eq!(
            CANCEL.at("1", 2).describe(),
            "POST /projects/1/jobs/2/cancel"
        );
        assert_eq!(
            REF_ARTIFACT_FILE
                .with(
                    "42",
                    &[(":ref_name", "feature/x"), ("*artifact_path", "dist/a.js")]
                )
                .path,
            "/projects/42/jobs/artifacts/feature/x/raw/dist/a.js"
        );
        assert_eq!(
            ARTIFACTS.by_access().template,
            "/projects/:id/jobs/:job_id/artifacts"
        );
        assert_eq!(ARTIFACTS.by_access().token, TokenRule::Access);
        assert_eq!(JOB.by_access().token, TokenRule::Access);
    }
}
