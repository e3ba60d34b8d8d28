package fsck

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/objstore"
)

// InvSweeper: a deletion fence or a sweeper lease is damaged. The sweeper
// stops on it (exit 1, every run) until a person restores or removes it;
// fsck repairs nothing.
const InvSweeper = "sweeper"

// checkSweeperState reads every deletion fence and sweeper lease the store
// holds (one LIST of each prefix, one GET of each object) and reports one
// that does not decode, or fails its own checksum, as a problem.
func (c *checker) checkSweeperState(ctx context.Context) error {
	f := fence.New(c.objs, nil)
	err := c.eachSweeperObject(ctx, fence.Prefix, "fence", func(key string) error {
		shard, err := strconv.Atoi(strings.TrimPrefix(key, fence.Prefix))
		if err != nil || shard < 0 || shard >= fence.Shards {
			c.unknown(key)
			return nil
		}
		_, err = f.Load(ctx, shard)
		return err
	})
	if err != nil {
		return err
	}
	return c.eachSweeperObject(ctx, gc.LeasePrefix, "lease", func(key string) error {
		return gc.CheckLease(ctx, c.objs, key)
	})
}

// eachSweeperObject reads every object under prefix with read: a failure
// to read the store stops the check, any other error (the object gone
// meanwhile excepted) is a damaged object.
func (c *checker) eachSweeperObject(ctx context.Context, prefix, what string, read func(key string) error) error {
	for info, err := range c.objs.List(ctx, prefix, nil) {
		if err != nil {
			if lerr := c.listFailed(err, info, InvSweeper, what+" cannot be read", nil); lerr != nil {
				return lerr
			}
			continue
		}
		err := read(info.Key)
		switch {
		case err == nil, errors.Is(err, objstore.ErrNotExist):
		case isStorageFailure(err):
			return err
		default:
			c.damagedObject(InvSweeper, info.Key, what+" does not decode", err)
		}
	}
	return nil
}
