import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AppContext } from "../core/context";
import { describeEachDb } from "../../test/support/db";
import { seedOrg, seedUser } from "../../test/support/projects";
import { cloneUrlOf, githubHostsFrom, parseRepoUrl } from "./repo";
import { createProject, currentCloneUrl, getProject, listProjects, updateProject } from "./service";

const GH = githubHostsFrom("https://ghe.example.com");

describe("repository URLs", () => {
  const ok: [string, Partial<ReturnType<typeof parseRepoUrl>>][] = [
    [
      "https://github.com/Owner/repo",
      { provider: "github", host: "github.com", fullName: "Owner/repo", url: "https://github.com/Owner/repo" },
    ],
    ["https://github.com/owner/repo.git/", { provider: "github", fullName: "owner/repo" }],
    [
      "git@github.com:owner/repo.git",
      { provider: "github", fullName: "owner/repo", url: "https://github.com/owner/repo" },
    ],
    ["https://ghe.example.com/team/app", { provider: "github", host: "ghe.example.com", fullName: "team/app" }],
    ["https://gitlab.com/group/sub/repo.git", { provider: "git", host: "gitlab.com", fullName: null }],
    ["ssh://git@git.example.org:2222/srv/repo.git", { provider: "git", host: "git.example.org:2222" }],
    ["/srv/git/repo", { provider: "git", url: "/srv/git/repo", host: null }],
    ["file:///srv/git/repo", { provider: "git", url: "/srv/git/repo" }],
  ];
  for (const [input, want] of ok) test(`accepts ${input}`, () => expect(parseRepoUrl(input, GH)).toMatchObject(want));

  const bad = [
    "https://user:ghp_token@github.com/o/r",
    "https://x-access-token@gitlab.com/o/r.git",
    "ext::sh -c id",
    "-uhelp",
    "ftp://example.com/r.git",
    "https://github.com/only-owner",
    "relative/path",
    "/srv/../etc",
    "https://example.com/r.git?x=1",
  ];
  for (const input of bad) test(`refuses ${input}`, () => expect(() => parseRepoUrl(input, GH)).toThrow());

  test("GitHub repositories are cloned over https by their current name", () => {
    expect(cloneUrlOf(parseRepoUrl("git@github.com:o/r.git", GH))).toBe("https://github.com/o/r.git");
  });
});

/** A stand-in GitHub API: repositories by name and by id, with a rename. */
function fakeGithub() {
  const repos = new Map<number, { full_name: string; private: boolean }>([
    [4242, { full_name: "acme/widget", private: false }],
  ]);
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const path = new URL(req.url).pathname;
      const byId = /^\/repositories\/(\d+)$/.exec(path);
      const byName = /^\/repos\/([^/]+\/[^/]+)$/.exec(path);
      const hit = byId
        ? [Number(byId[1]), repos.get(Number(byId[1]))]
        : [...repos.entries()].find(([, r]) => r.full_name.toLowerCase() === byName?.[1]?.toLowerCase());
      if (!hit?.[1]) return Response.json({ message: "Not Found" }, { status: 404 });
      const [id, r] = hit as [number, { full_name: string; private: boolean }];
      return Response.json({
        id,
        full_name: r.full_name,
        private: r.private,
        html_url: `https://ghe.test/${r.full_name}`,
      });
    },
  });
  return { server, rename: (to: string) => (repos.get(4242)!.full_name = to) };
}

describeEachDb("projects", (get) => {
  const gh = fakeGithub();
  let ctx: AppContext & { resolveHost: (host: string) => Promise<string[]> };
  const settings: Record<string, unknown> = {};
  // Names resolve from this table: no outside DNS; `moving.example.com` changes its address mid-test.
  const dns: Record<string, string[]> = {
    "git.example.org": ["93.184.216.34"],
    "internal.example.com": ["10.0.0.7"],
    "moving.example.com": ["93.184.216.35"],
  };
  beforeAll(() => {
    settings["github.baseUrl"] = "https://ghe.test";
    settings["github.apiUrl"] = `http://127.0.0.1:${gh.server.port}`;
    ctx = {
      db: get().db,
      settings: { get: (k: string) => settings[k] },
      resolveHost: async (host: string) => dns[host] ?? [],
    } as unknown as typeof ctx;
  });
  afterAll(() => gh.server.stop(true));

  test("a GitHub repository is tracked by its stable id and followed through a rename", async () => {
    const org = await seedOrg(get().db);
    const p = await createProject(ctx, org.OWNER.principal, org.org.id, {
      title: "Widget",
      repoUrl: "https://ghe.test/ACME/Widget.git",
    });
    expect(p).toMatchObject({
      repoProvider: "github",
      repoProviderId: "4242",
      repoFullName: "acme/widget",
      repoUrl: "https://ghe.test/acme/widget",
      state: "DRAFT",
    });
    gh.rename("acme-labs/widget-pro");
    expect((await currentCloneUrl(ctx, p))?.url).toBe("https://ghe.test/acme-labs/widget-pro.git");
    expect((await getProject(ctx.db, org.OWNER.principal, p.id)).repoFullName).toBe("acme-labs/widget-pro");
  });

  test("an unknown or unreachable repository keeps its URL without an id; any git URL works", async () => {
    const org = await seedOrg(get().db);
    const p = await createProject(ctx, org.MAINTAINER.principal, org.org.id, {
      title: "X",
      repoUrl: "https://ghe.test/nobody/nothing",
    });
    expect(p.repoProviderId).toBeNull();
    const q = await createProject(ctx, org.OWNER.principal, org.org.id, {
      title: "Y",
      repoUrl: "https://git.example.org/y.git",
      fundingMode: "YIELD",
    });
    expect(q).toMatchObject({ repoProvider: "git", fundingMode: "YIELD", tokenSymbol: "ETH", tokenDecimals: 18 });
  });

  test("input: ERC-20 needs decimals; unknown fields are refused; only owners and maintainers create", async () => {
    const org = await seedOrg(get().db);
    const erc = { title: "T", tokenAddress: "0x" + "ab".repeat(20) };
    await expect(createProject(ctx, org.OWNER.principal, org.org.id, erc)).rejects.toMatchObject({
      details: { fields: { tokenDecimals: expect.any(String) } },
    });
    expect(
      (await createProject(ctx, org.OWNER.principal, org.org.id, { ...erc, tokenDecimals: 6, tokenSymbol: "USDC" }))
        .tokenDecimals,
    ).toBe(6);
    await expect(createProject(ctx, org.OWNER.principal, org.org.id, { title: "T", budget: 10 })).rejects.toMatchObject(
      { code: "INVALID_INPUT" },
    );
    await expect(createProject(ctx, org.OWNER.principal, org.org.id, { title: "" })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
    await expect(createProject(ctx, org.SPONSOR.principal, org.org.id, { title: "T" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const outsider = await seedUser(get().db);
    await expect(createProject(ctx, outsider.principal, org.org.id, { title: "T" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });

  test("visibility: public projects are listed for everyone, private ones for their org only", async () => {
    const org = await seedOrg(get().db, "Vis");
    const pub = await createProject(ctx, org.OWNER.principal, org.org.id, { title: "Public one", repoType: "PUBLIC" });
    const priv = await createProject(ctx, org.OWNER.principal, org.org.id, {
      title: "Private one",
      repoType: "PRIVATE",
    });
    const outsider = await seedUser(get().db);
    const seen = (await listProjects(ctx.db, outsider.principal)).map((p) => p.id);
    expect(seen).toContain(pub.id);
    expect(seen).not.toContain(priv.id);
    expect(
      (await listProjects(ctx.db, org.CONTRIBUTOR.principal, { orgId: org.org.id })).map((p) => p.id).sort(),
    ).toEqual([pub.id, priv.id].sort());
    await expect(getProject(ctx.db, outsider.principal, priv.id)).rejects.toMatchObject({ code: "PROJECT_NOT_FOUND" });
    expect((await getProject(ctx.db, outsider.principal, pub.id)).id).toBe(pub.id);
    await expect(updateProject(ctx, outsider.principal, pub.id, { title: "mine" })).rejects.toMatchObject({
      code: "PROJECT_NOT_FOUND",
    });
  });

  test("repository URLs that point at this server or a private network are refused unless the admin allows them", async () => {
    const org = await seedOrg(get().db);
    const create = (repoUrl: string) => createProject(ctx, org.OWNER.principal, org.org.id, { title: "R", repoUrl });
    for (const url of [
      "/srv/git/repo",
      "file:///etc",
      "http://127.0.0.1:8080/o/r.git",
      "http://2130706433/o/r.git",
      "https://[::ffff:169.254.169.254]/o/r.git",
      "https://localhost/o/r.git",
      "git@internal.example.com:o/r.git",
      "https://internal.example.com/o/r.git",
    ]) {
      await expect(create(url)).rejects.toMatchObject({ code: "REPO_URL_FORBIDDEN", status: 400 });
    }
    const p = await create("https://git.example.org/y.git");
    await expect(
      updateProject(ctx, org.OWNER.principal, p.id, { repoUrl: "http://169.254.169.254/latest" }),
    ).rejects.toMatchObject({ code: "REPO_URL_FORBIDDEN" });

    settings["security.allowedRepoHosts"] = ["internal.example.com", "/srv/git"];
    try {
      expect((await create("https://internal.example.com/o/r.git")).repoHost).toBe("internal.example.com");
      expect((await create("/srv/git/repo")).repoUrl).toBe("/srv/git/repo");
      await expect(create("http://127.0.0.1/o/r.git")).rejects.toMatchObject({ code: "REPO_URL_FORBIDDEN" });
    } finally {
      delete settings["security.allowedRepoHosts"];
    }
  });

  test("the clone URL is checked again before a fetch: a name that now points inside is refused", async () => {
    const org = await seedOrg(get().db);
    const p = await createProject(ctx, org.OWNER.principal, org.org.id, {
      title: "Moving",
      repoUrl: "https://moving.example.com/o/r.git",
    });
    expect(await currentCloneUrl(ctx, p)).toEqual({
      url: "https://moving.example.com/o/r.git",
      gitConfig: [
        ["http.followRedirects", "false"],
        ["http.curloptResolve", "moving.example.com:443:93.184.216.35"],
      ],
    });
    dns["moving.example.com"] = ["127.0.0.1"];
    await expect(currentCloneUrl(ctx, p)).rejects.toMatchObject({ code: "REPO_URL_FORBIDDEN" });
    delete dns["moving.example.com"];
    await expect(currentCloneUrl(ctx, p)).rejects.toMatchObject({ code: "REPO_URL_FORBIDDEN" });
  });

  test("repository, token and funding mode are fixed once the project leaves DRAFT", async () => {
    const org = await seedOrg(get().db);
    const p = await createProject(ctx, org.OWNER.principal, org.org.id, { title: "T" });
    expect(
      (await updateProject(ctx, org.OWNER.principal, p.id, { fundingMode: "YIELD", title: "T2" })).fundingMode,
    ).toBe("YIELD");
    await get().exec("update projects set state = 'ACTIVE' where id = $1", [p.id]);
    await expect(updateProject(ctx, org.OWNER.principal, p.id, { fundingMode: "ESCROW" })).rejects.toMatchObject({
      code: "CONFLICT",
    });
    expect((await updateProject(ctx, org.OWNER.principal, p.id, { description: "still editable" })).description).toBe(
      "still editable",
    );
  });
});
