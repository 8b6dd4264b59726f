variable "TAG" {
  default = "v1.2.3"
}

variable "BRANCH" {
  default = "Feature/Login"
}

variable "EXTRA" {
  default = ""
}

target "default" {
  args = {
    EQUAL      = equal(TAG, "v1.2.3")
    NOTEQUAL   = notequal(TAG, "")
    AND        = and(true, notequal(TAG, ""))
    OR         = or(false, equal(EXTRA, ""))
    NOT        = not(true)
    UPPER      = upper(BRANCH)
    LOWER      = lower(BRANCH)
    REPLACE    = replace(lower(BRANCH), "/", "-")
    TRIMPREFIX = trimprefix(TAG, "v")
    JOIN       = join(",", ["a", "b", "c"])
    SPLIT      = split(".", trimprefix(TAG, "v"))[1]
    FORMAT     = format("%s-%03d", "build", 7)
    COALESCE   = coalesce(EXTRA, "fallback")
    COND       = TAG != "" ? "tagged" : "untagged"
    SANITIZE   = sanitize(BRANCH)
    BASENAME   = basename("a/b/c.txt")
    TRY        = try(split(".", TAG)[5], "none")
    LENGTH     = length(split(".", TAG))
  }
}
