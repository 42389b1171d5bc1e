/* reg_test_dir.h - temporary folders for the registration unit tests. */
#ifndef REG_TEST_DIR_H
#define REG_TEST_DIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* reg_test_dir_make creates a new empty folder under $TMPDIR or /tmp and
 * writes its path into dir. */
static inline void
reg_test_dir_make(char dir[256])
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, 256, "%s/mcpreg-reg-test.XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

/* reg_test_dir_remove deletes path and, for a folder, everything in it,
 * without following symbolic links. */
static inline void
reg_test_dir_remove(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (lstat(path, &st) != 0) {
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }

    d = opendir(path);
    while (d != NULL && (e = readdir(d)) != NULL) {
        char child[1024];

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) <
            (int)sizeof(child)) {
            reg_test_dir_remove(child);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(path);
}

#endif
