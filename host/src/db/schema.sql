-- Buildbot 4.x schema (tables, columns and indexes as a Buildbot 4.3 master creates them).
-- Applied only to a new, empty database file; an existing Buildbot database is used as it is.

CREATE TABLE IF NOT EXISTS buildsets (
    id INTEGER NOT NULL,
    external_idstring VARCHAR(256),
    reason VARCHAR(256),
    submitted_at INTEGER NOT NULL,
    complete SMALLINT DEFAULT '0' NOT NULL,
    complete_at INTEGER,
    results SMALLINT,
    parent_buildid INTEGER,
    parent_relationship TEXT,
    rebuilt_buildid INTEGER,
    PRIMARY KEY (id),
    CONSTRAINT parent_buildid FOREIGN KEY(parent_buildid) REFERENCES builds (id) ON DELETE SET NULL,
    CONSTRAINT rebuilt_buildid FOREIGN KEY(rebuilt_buildid) REFERENCES builds (id) ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS changesources (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_hash VARCHAR(40) NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS workers (
    id INTEGER NOT NULL,
    name VARCHAR(50) NOT NULL,
    info TEXT NOT NULL,
    paused SMALLINT DEFAULT '0' NOT NULL,
    pause_reason TEXT,
    graceful SMALLINT DEFAULT '0' NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS patches (
    id INTEGER NOT NULL,
    patchlevel INTEGER NOT NULL,
    patch_base64 TEXT NOT NULL,
    patch_author TEXT NOT NULL,
    patch_comment TEXT NOT NULL,
    subdir TEXT,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS schedulers (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_hash VARCHAR(40) NOT NULL,
    enabled SMALLINT DEFAULT '1',
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_hash VARCHAR(40) NOT NULL,
    slug VARCHAR(50) NOT NULL,
    description TEXT,
    description_format TEXT,
    description_html TEXT,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS tags (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_hash VARCHAR(40) NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER NOT NULL,
    name VARCHAR(128) NOT NULL,
    class_name VARCHAR(128) NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS users (
    uid INTEGER NOT NULL,
    identifier VARCHAR(255) NOT NULL,
    bb_username VARCHAR(128),
    bb_password VARCHAR(128),
    PRIMARY KEY (uid)
);
CREATE TABLE IF NOT EXISTS masters (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_hash VARCHAR(40) NOT NULL,
    active INTEGER NOT NULL,
    last_active INTEGER NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS buildset_properties (
    buildsetid INTEGER NOT NULL,
    property_name VARCHAR(256) NOT NULL,
    property_value TEXT NOT NULL,
    FOREIGN KEY(buildsetid) REFERENCES buildsets (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS changesource_masters (
    changesourceid INTEGER NOT NULL,
    masterid INTEGER NOT NULL,
    PRIMARY KEY (changesourceid),
    FOREIGN KEY(changesourceid) REFERENCES changesources (id) ON DELETE CASCADE,
    FOREIGN KEY(masterid) REFERENCES masters (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS connected_workers (
    id INTEGER NOT NULL,
    masterid INTEGER NOT NULL,
    workerid INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(masterid) REFERENCES masters (id) ON DELETE CASCADE,
    FOREIGN KEY(workerid) REFERENCES workers (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS sourcestamps (
    id INTEGER NOT NULL,
    ss_hash VARCHAR(40) NOT NULL,
    branch VARCHAR(256),
    revision VARCHAR(256),
    patchid INTEGER,
    repository VARCHAR(512) DEFAULT '' NOT NULL,
    codebase VARCHAR(256) DEFAULT '' NOT NULL,
    project VARCHAR(512) DEFAULT '' NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(patchid) REFERENCES patches (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS scheduler_masters (
    schedulerid INTEGER NOT NULL,
    masterid INTEGER NOT NULL,
    PRIMARY KEY (schedulerid),
    FOREIGN KEY(schedulerid) REFERENCES schedulers (id) ON DELETE CASCADE,
    FOREIGN KEY(masterid) REFERENCES masters (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS codebases (
    id INTEGER NOT NULL,
    projectid INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_hash VARCHAR(40) NOT NULL,
    slug VARCHAR(50) NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(projectid) REFERENCES projects (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS builders (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    description_format TEXT,
    description_html TEXT,
    projectid INTEGER,
    name_hash VARCHAR(40) NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_builders_projectid FOREIGN KEY(projectid) REFERENCES projects (id) ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS object_state (
    objectid INTEGER NOT NULL,
    name VARCHAR(255) NOT NULL,
    value_json TEXT NOT NULL,
    FOREIGN KEY(objectid) REFERENCES objects (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS users_info (
    uid INTEGER NOT NULL,
    attr_type VARCHAR(128) NOT NULL,
    attr_data VARCHAR(128) NOT NULL,
    FOREIGN KEY(uid) REFERENCES users (uid) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS buildrequests (
    id INTEGER NOT NULL,
    buildsetid INTEGER NOT NULL,
    builderid INTEGER NOT NULL,
    priority INTEGER DEFAULT '0' NOT NULL,
    complete INTEGER DEFAULT '0',
    results SMALLINT,
    submitted_at INTEGER NOT NULL,
    complete_at INTEGER,
    waited_for SMALLINT DEFAULT '0',
    PRIMARY KEY (id),
    FOREIGN KEY(buildsetid) REFERENCES buildsets (id) ON DELETE CASCADE,
    FOREIGN KEY(builderid) REFERENCES builders (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS builds (
    id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    builderid INTEGER NOT NULL,
    buildrequestid INTEGER NOT NULL,
    workerid INTEGER,
    masterid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    complete_at INTEGER,
    locks_duration_s INTEGER NOT NULL,
    state_string TEXT NOT NULL,
    results INTEGER,
    PRIMARY KEY (id),
    FOREIGN KEY(builderid) REFERENCES builders (id) ON DELETE CASCADE,
    CONSTRAINT buildrequestid FOREIGN KEY(buildrequestid) REFERENCES buildrequests (id) ON DELETE CASCADE,
    FOREIGN KEY(workerid) REFERENCES workers (id) ON DELETE SET NULL,
    FOREIGN KEY(masterid) REFERENCES masters (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS changes (
    changeid INTEGER NOT NULL,
    author VARCHAR(255) NOT NULL,
    committer VARCHAR(255),
    comments TEXT NOT NULL,
    branch VARCHAR(255),
    revision VARCHAR(255),
    revlink VARCHAR(256),
    when_timestamp INTEGER NOT NULL,
    category VARCHAR(255),
    repository VARCHAR(512) DEFAULT '' NOT NULL,
    codebase VARCHAR(256) DEFAULT '' NOT NULL,
    project VARCHAR(512) DEFAULT '' NOT NULL,
    sourcestampid INTEGER NOT NULL,
    parent_changeids INTEGER,
    PRIMARY KEY (changeid),
    FOREIGN KEY(sourcestampid) REFERENCES sourcestamps (id) ON DELETE CASCADE,
    FOREIGN KEY(parent_changeids) REFERENCES changes (changeid) ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS buildset_sourcestamps (
    id INTEGER NOT NULL,
    buildsetid INTEGER NOT NULL,
    sourcestampid INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(buildsetid) REFERENCES buildsets (id) ON DELETE CASCADE,
    FOREIGN KEY(sourcestampid) REFERENCES sourcestamps (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS codebase_commits (
    id INTEGER NOT NULL,
    codebaseid INTEGER NOT NULL,
    author VARCHAR(255) NOT NULL,
    committer VARCHAR(255),
    comments TEXT NOT NULL,
    when_timestamp INTEGER NOT NULL,
    revision VARCHAR(70) NOT NULL,
    parent_commitid INTEGER,
    PRIMARY KEY (id),
    FOREIGN KEY(codebaseid) REFERENCES codebases (id) ON DELETE CASCADE,
    FOREIGN KEY(parent_commitid) REFERENCES codebase_commits (id) ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS builder_masters (
    id INTEGER NOT NULL,
    builderid INTEGER NOT NULL,
    masterid INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(builderid) REFERENCES builders (id) ON DELETE CASCADE,
    FOREIGN KEY(masterid) REFERENCES masters (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS builders_tags (
    id INTEGER NOT NULL,
    builderid INTEGER NOT NULL,
    tagid INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(builderid) REFERENCES builders (id) ON DELETE CASCADE,
    FOREIGN KEY(tagid) REFERENCES tags (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS test_names (
    id INTEGER NOT NULL,
    builderid INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(builderid) REFERENCES builders (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS test_code_paths (
    id INTEGER NOT NULL,
    builderid INTEGER NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(builderid) REFERENCES builders (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS buildrequest_claims (
    brid INTEGER NOT NULL,
    masterid INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    FOREIGN KEY(brid) REFERENCES buildrequests (id) ON DELETE CASCADE,
    FOREIGN KEY(masterid) REFERENCES masters (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS build_properties (
    buildid INTEGER NOT NULL,
    name VARCHAR(256) NOT NULL,
    value TEXT NOT NULL,
    source VARCHAR(256) NOT NULL,
    FOREIGN KEY(buildid) REFERENCES builds (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS build_data (
    id INTEGER NOT NULL,
    buildid INTEGER NOT NULL,
    name VARCHAR(256) NOT NULL,
    value BLOB NOT NULL,
    length INTEGER NOT NULL,
    source VARCHAR(256) NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(buildid) REFERENCES builds (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    name VARCHAR(50) NOT NULL,
    buildid INTEGER NOT NULL,
    started_at INTEGER,
    locks_acquired_at INTEGER,
    complete_at INTEGER,
    state_string TEXT NOT NULL,
    results INTEGER,
    urls_json TEXT NOT NULL,
    hidden SMALLINT DEFAULT '0' NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(buildid) REFERENCES builds (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS configured_workers (
    id INTEGER NOT NULL,
    buildermasterid INTEGER NOT NULL,
    workerid INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(buildermasterid) REFERENCES builder_masters (id) ON DELETE CASCADE,
    FOREIGN KEY(workerid) REFERENCES workers (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS change_files (
    changeid INTEGER NOT NULL,
    filename VARCHAR(1024) NOT NULL,
    FOREIGN KEY(changeid) REFERENCES changes (changeid) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS change_properties (
    changeid INTEGER NOT NULL,
    property_name VARCHAR(256) NOT NULL,
    property_value TEXT NOT NULL,
    FOREIGN KEY(changeid) REFERENCES changes (changeid) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS change_users (
    changeid INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    FOREIGN KEY(changeid) REFERENCES changes (changeid) ON DELETE CASCADE,
    FOREIGN KEY(uid) REFERENCES users (uid) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS scheduler_changes (
    schedulerid INTEGER NOT NULL,
    changeid INTEGER NOT NULL,
    important INTEGER,
    FOREIGN KEY(schedulerid) REFERENCES schedulers (id) ON DELETE CASCADE,
    FOREIGN KEY(changeid) REFERENCES changes (changeid) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS codebase_branches (
    id INTEGER NOT NULL,
    codebaseid INTEGER NOT NULL,
    name VARCHAR(255) NOT NULL,
    name_hash VARCHAR(40) NOT NULL,
    commitid INTEGER,
    last_timestamp INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(codebaseid) REFERENCES codebases (id) ON DELETE CASCADE,
    FOREIGN KEY(commitid) REFERENCES codebase_commits (id) ON DELETE SET NULL
);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    slug VARCHAR(50) NOT NULL,
    stepid INTEGER NOT NULL,
    complete SMALLINT NOT NULL,
    num_lines INTEGER NOT NULL,
    type VARCHAR(1) NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(stepid) REFERENCES steps (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS test_result_sets (
    id INTEGER NOT NULL,
    builderid INTEGER NOT NULL,
    buildid INTEGER NOT NULL,
    stepid INTEGER NOT NULL,
    description TEXT,
    category TEXT NOT NULL,
    value_unit TEXT NOT NULL,
    tests_passed INTEGER,
    tests_failed INTEGER,
    complete SMALLINT NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(builderid) REFERENCES builders (id) ON DELETE CASCADE,
    FOREIGN KEY(buildid) REFERENCES builds (id) ON DELETE CASCADE,
    FOREIGN KEY(stepid) REFERENCES steps (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS logchunks (
    logid INTEGER NOT NULL,
    first_line INTEGER NOT NULL,
    last_line INTEGER NOT NULL,
    content BLOB,
    compressed SMALLINT NOT NULL,
    FOREIGN KEY(logid) REFERENCES logs (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS test_results (
    id INTEGER NOT NULL,
    builderid INTEGER NOT NULL,
    test_result_setid INTEGER NOT NULL,
    test_nameid INTEGER,
    test_code_pathid INTEGER,
    line INTEGER,
    duration_ns INTEGER,
    value TEXT NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(builderid) REFERENCES builders (id) ON DELETE CASCADE,
    FOREIGN KEY(test_result_setid) REFERENCES test_result_sets (id) ON DELETE CASCADE,
    FOREIGN KEY(test_nameid) REFERENCES test_names (id) ON DELETE CASCADE,
    FOREIGN KEY(test_code_pathid) REFERENCES test_code_paths (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS buildsets_submitted_at ON buildsets (submitted_at);
CREATE INDEX IF NOT EXISTS buildsets_complete ON buildsets (complete);
CREATE UNIQUE INDEX IF NOT EXISTS changesource_name_hash ON changesources (name_hash);
CREATE UNIQUE INDEX IF NOT EXISTS workers_name ON workers (name);
CREATE UNIQUE INDEX IF NOT EXISTS scheduler_name_hash ON schedulers (name_hash);
CREATE UNIQUE INDEX IF NOT EXISTS projects_name_hash ON projects (name_hash);
CREATE UNIQUE INDEX IF NOT EXISTS tag_name_hash ON tags (name_hash);
CREATE UNIQUE INDEX IF NOT EXISTS object_identity ON objects (name, class_name);
CREATE UNIQUE INDEX IF NOT EXISTS users_identifier ON users (identifier);
CREATE UNIQUE INDEX IF NOT EXISTS users_bb_user ON users (bb_username);
CREATE UNIQUE INDEX IF NOT EXISTS master_name_hashes ON masters (name_hash);
CREATE INDEX IF NOT EXISTS buildset_properties_buildsetid ON buildset_properties (buildsetid);
CREATE INDEX IF NOT EXISTS connected_workers_masterid ON connected_workers (masterid);
CREATE UNIQUE INDEX IF NOT EXISTS connected_workers_identity ON connected_workers (masterid, workerid);
CREATE INDEX IF NOT EXISTS connected_workers_workers ON connected_workers (workerid);
CREATE UNIQUE INDEX IF NOT EXISTS sourcestamps_ss_hash_key ON sourcestamps (ss_hash);
CREATE UNIQUE INDEX IF NOT EXISTS codebases_projects_name_hash ON codebases (projectid, name_hash);
CREATE INDEX IF NOT EXISTS builders_projectid ON builders (projectid);
CREATE UNIQUE INDEX IF NOT EXISTS builder_name_hash ON builders (name_hash);
CREATE UNIQUE INDEX IF NOT EXISTS name_per_object ON object_state (objectid, name);
CREATE INDEX IF NOT EXISTS users_info_uid ON users_info (uid);
CREATE UNIQUE INDEX IF NOT EXISTS users_info_attrs ON users_info (attr_type, attr_data);
CREATE UNIQUE INDEX IF NOT EXISTS users_info_uid_attr_type ON users_info (uid, attr_type);
CREATE INDEX IF NOT EXISTS buildrequests_complete ON buildrequests (complete);
CREATE INDEX IF NOT EXISTS buildrequests_builderid ON buildrequests (builderid);
CREATE INDEX IF NOT EXISTS buildrequests_buildsetid ON buildrequests (buildsetid);
CREATE INDEX IF NOT EXISTS builds_buildrequestid ON builds (buildrequestid);
CREATE INDEX IF NOT EXISTS builds_masterid ON builds (masterid);
CREATE INDEX IF NOT EXISTS builds_workerid ON builds (workerid);
CREATE UNIQUE INDEX IF NOT EXISTS builds_number ON builds (builderid, number);
CREATE INDEX IF NOT EXISTS changes_category ON changes (category);
CREATE INDEX IF NOT EXISTS changes_when_timestamp ON changes (when_timestamp);
CREATE INDEX IF NOT EXISTS changes_author ON changes (author);
CREATE INDEX IF NOT EXISTS changes_sourcestampid ON changes (sourcestampid);
CREATE INDEX IF NOT EXISTS changes_branch ON changes (branch);
CREATE INDEX IF NOT EXISTS changes_revision ON changes (revision);
CREATE INDEX IF NOT EXISTS buildset_sourcestamps_buildsetid ON buildset_sourcestamps (buildsetid);
CREATE UNIQUE INDEX IF NOT EXISTS buildset_sourcestamps_unique ON buildset_sourcestamps (buildsetid, sourcestampid);
CREATE UNIQUE INDEX IF NOT EXISTS codebase_commits_unique ON codebase_commits (codebaseid, revision);
CREATE INDEX IF NOT EXISTS builder_masters_builderid ON builder_masters (builderid);
CREATE UNIQUE INDEX IF NOT EXISTS builder_masters_identity ON builder_masters (builderid, masterid);
CREATE INDEX IF NOT EXISTS builder_masters_masterid ON builder_masters (masterid);
CREATE INDEX IF NOT EXISTS builders_tags_builderid ON builders_tags (builderid);
CREATE UNIQUE INDEX IF NOT EXISTS builders_tags_unique ON builders_tags (builderid, tagid);
CREATE INDEX IF NOT EXISTS test_names_name ON test_names (builderid, name);
CREATE INDEX IF NOT EXISTS test_code_paths_path ON test_code_paths (builderid, path);
CREATE UNIQUE INDEX IF NOT EXISTS buildrequest_claims_brids ON buildrequest_claims (brid);
CREATE INDEX IF NOT EXISTS ix_buildrequest_claims_masterid ON buildrequest_claims (masterid);
CREATE INDEX IF NOT EXISTS build_properties_buildid ON build_properties (buildid);
CREATE UNIQUE INDEX IF NOT EXISTS build_data_buildid_name ON build_data (buildid, name);
CREATE UNIQUE INDEX IF NOT EXISTS steps_number ON steps (buildid, number);
CREATE INDEX IF NOT EXISTS steps_started_at ON steps (started_at);
CREATE UNIQUE INDEX IF NOT EXISTS steps_name ON steps (buildid, name);
CREATE INDEX IF NOT EXISTS configured_workers_buildmasterid ON configured_workers (buildermasterid);
CREATE UNIQUE INDEX IF NOT EXISTS configured_workers_identity ON configured_workers (buildermasterid, workerid);
CREATE INDEX IF NOT EXISTS configured_workers_workers ON configured_workers (workerid);
CREATE INDEX IF NOT EXISTS change_files_changeid ON change_files (changeid);
CREATE INDEX IF NOT EXISTS change_properties_changeid ON change_properties (changeid);
CREATE INDEX IF NOT EXISTS change_users_changeid ON change_users (changeid);
CREATE INDEX IF NOT EXISTS scheduler_changes_changeid ON scheduler_changes (changeid);
CREATE UNIQUE INDEX IF NOT EXISTS scheduler_changes_unique ON scheduler_changes (schedulerid, changeid);
CREATE INDEX IF NOT EXISTS scheduler_changes_schedulerid ON scheduler_changes (schedulerid);
CREATE UNIQUE INDEX IF NOT EXISTS codebase_branches_unique ON codebase_branches (codebaseid, name_hash);
CREATE UNIQUE INDEX IF NOT EXISTS logs_slug ON logs (stepid, slug);
CREATE INDEX IF NOT EXISTS logchunks_firstline ON logchunks (logid, first_line);
CREATE INDEX IF NOT EXISTS logchunks_lastline ON logchunks (logid, last_line);
-- Buildbot's migration marker: a Buildbot 4.3 master opening this file finds it up to date.
CREATE TABLE IF NOT EXISTS alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num) SELECT '067' WHERE NOT EXISTS (SELECT 1 FROM alembic_version);
-- buildbot-www additions (not in Buildbot's schema): indexes that keep ordered and filtered
-- build lists cheap on large databases. Created only in files this server creates; an operator
-- may add them to a Buildbot database too (see docs/performance.md).
CREATE INDEX IF NOT EXISTS bbwww_builds_started_at ON builds (started_at);
CREATE INDEX IF NOT EXISTS bbwww_builds_complete_at ON builds (complete_at);
CREATE INDEX IF NOT EXISTS bbwww_builds_builderid_results ON builds (builderid, results);
-- A builder's builds newest first, by id or by start time, without sorting all of them (with
-- the rowid every SQLite index ends with, the first is (builderid, id)).
CREATE INDEX IF NOT EXISTS bbwww_builds_builderid ON builds (builderid);
CREATE INDEX IF NOT EXISTS bbwww_builds_builderid_started_at ON builds (builderid, started_at);

-- The builds of a change (`changes/<id>/builds`, read by the console and grid views) are
-- found from its sourcestamp.
CREATE INDEX IF NOT EXISTS bbwww_buildset_sourcestamps_sourcestampid ON buildset_sourcestamps (sourcestampid);
