//! PostgreSQL raises 22003 when integer arithmetic overflows; DataFusion's
//! planner builds wrapping `+`, `-` and `*`. This physical optimizer rule
//! switches the arithmetic of projections and filters — where expressions
//! over table columns are evaluated, including UPDATE's new values — to the
//! checked kernels, so `int_col + 1` at the maximum fails instead of
//! silently wrapping.
//!
//! Not covered yet: constants folded by the logical simplifier before this
//! rule runs (`CAST(2147483647 AS INT) + 1` still wraps) and arithmetic
//! inside aggregates.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::ProjectionExec;

/// The rule; add it last so it sees the final projections and filters.
#[derive(Debug, Default)]
pub struct CheckedArithmetic;

fn checked(expr: &Arc<dyn PhysicalExpr>) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    Arc::clone(expr).transform_up(|e| {
        let Some(b) = e.downcast_ref::<BinaryExpr>() else { return Ok(Transformed::no(e)) };
        if !matches!(b.op(), Operator::Plus | Operator::Minus | Operator::Multiply) {
            return Ok(Transformed::no(e));
        }
        let rebuilt = BinaryExpr::new(Arc::clone(b.left()), *b.op(), Arc::clone(b.right())).with_fail_on_overflow(true);
        if rebuilt == *b {
            return Ok(Transformed::no(e));
        }
        Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn PhysicalExpr>))
    })
}

fn rewrite(node: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    if let Some(p) = node.downcast_ref::<ProjectionExec>() {
        let mut changed = false;
        let exprs = p
            .expr()
            .iter()
            .map(|pe| {
                let t = checked(&pe.expr)?;
                changed |= t.transformed;
                Ok(ProjectionExpr { expr: t.data, alias: pe.alias.clone() })
            })
            .collect::<Result<Vec<_>>>()?;
        if changed {
            let rebuilt = ProjectionExec::try_new(exprs, Arc::clone(p.input()))?;
            return Ok(Transformed::yes(Arc::new(rebuilt)));
        }
    } else if let Some(f) = node.downcast_ref::<FilterExec>() {
        let t = checked(f.predicate())?;
        if t.transformed {
            let rebuilt = FilterExecBuilder::from(f).with_predicate(t.data).build()?;
            return Ok(Transformed::yes(Arc::new(rebuilt)));
        }
    }
    Ok(Transformed::no(node))
}

impl PhysicalOptimizerRule for CheckedArithmetic {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(rewrite).data()
    }

    fn name(&self) -> &str {
        "checked_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
